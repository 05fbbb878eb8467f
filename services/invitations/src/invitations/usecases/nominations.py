"""Who rates: the line manager's approval of the nomination list, raters submitting or declining,
and the participant nominating someone in place of a rater who declined or bounced."""

from __future__ import annotations

import logging
from uuid import UUID, uuid4

from invitations.config import Settings
from invitations.domain import (
    MAX_LINE_ANNOUNCED,
    NEEDS_REPLACEMENT,
    email_is_valid,
    mailbox_key,
    rater_address_problem,
)
from invitations.tables import Cycle, Rater
from invitations.usecases.common import (
    ACTIVE_RATER,
    PRODUCER,
    all_raters,
    get_cycle,
    queue_email,
    set_status,
)
from invitations.usecases.funding import refund_credit
from invitations.usecases.intake import announced_line, invite_all, nominate
from shared.contracts.events import ManagementLineChanged, RaterDeclined, RaterWithdrawn, ResponseReceived
from shared.contracts.vocabulary import RaterGroup
from shared.db import UnitOfWork
from shared.errors import Rejected

log = logging.getLogger(__name__)


async def decide_approval(uow: UnitOfWork, cycle_id: UUID, *, approve: bool, settings: Settings) -> Cycle:
    """The line manager approves the nomination list (invitations go) or does not (credit refunded)."""
    cycle = await get_cycle(uow, cycle_id)
    if cycle.status != "awaiting_approval":
        raise Rejected("this nomination list has already been decided")
    raters = await all_raters(uow, cycle_id)
    if approve:
        cycle.status = "open"
        invite_all(uow, cycle, raters, settings=settings)
    else:
        cycle.status = "not_approved"
        await refund_credit(uow, cycle)
        participant = next(r for r in raters if r.group == RaterGroup.SELF)
        queue_email(uow, kind="not_approved", cycle_id=cycle.id, rater_id=participant.id)
    uow.session.add(cycle)
    log.info("nominations decided", extra={"cycle_id": str(cycle_id), "approved": approve})
    return cycle


async def record_submission(uow: UnitOfWork, event: ResponseReceived) -> None:
    """A rater submitted: stop reminding them and thank them (the participant needs no thanks)."""
    rater = await uow.session.get(Rater, event.rater_id)
    if rater is None or rater.cycle_id != event.cycle_id or rater.status == "submitted":
        return
    set_status(rater, "submitted")
    uow.session.add(rater)
    if rater.group != RaterGroup.SELF:
        queue_email(uow, kind="thank_you", cycle_id=rater.cycle_id, rater_id=rater.id)


async def record_decline(uow: UnitOfWork, event: RaterDeclined) -> None:
    """A rater declined: the participant sees them as needing a replacement."""
    rater = await uow.session.get(Rater, event.rater_id)
    if rater is None or rater.cycle_id != event.cycle_id or rater.status not in ACTIVE_RATER:
        return
    set_status(rater, "declined", note=event.reason)
    uow.session.add(rater)


async def replace_rater(
    uow: UnitOfWork, *, cycle_id: UUID, old_rater_id: UUID, name: str, email: str, settings: Settings
) -> Rater:
    """Nominate someone in place of a rater who declined or whose email bounced. A new line manager
    joins the participant's management line: ManagementLineChanged tells scheduling."""
    cycle = await get_cycle(uow, cycle_id)
    old = await _to_replace(uow, cycle, old_rater_id=old_rater_id, name=name, email=email, settings=settings)
    new = Rater(
        id=uuid4(),
        cycle_id=cycle_id,
        group=old.group,
        name=name.strip(),
        email=email.strip(),
        replaces_rater_id=old.id,
    )
    raters = await all_raters(uow, cycle_id)
    line_before, line = announced_line(cycle, raters), announced_line(cycle, [*raters, new])
    if len(line) > MAX_LINE_ANNOUNCED:
        raise Rejected("no more line managers can be nominated for this 360; contact the programme team")
    uow.session.add(new)
    await uow.session.flush()
    was = old.status
    set_status(old, "replaced")
    uow.session.add(old)
    if was == "declined":
        # a bounced rater was withdrawn when the bounce came back
        uow.emit(
            RaterWithdrawn(
                producer=PRODUCER,
                correlation_id=cycle.correlation_id,
                cycle_id=cycle.id,
                rater_id=old.id,
                group=RaterGroup(old.group),
                reason="replaced",
            )
        )
    nominate(uow, cycle, new, settings=settings)
    if line != line_before:
        uow.emit(
            ManagementLineChanged(
                producer=PRODUCER, correlation_id=cycle.correlation_id, cycle_id=cycle.id, management_line=line
            )
        )
    log.info(
        "rater replaced",
        extra={
            "cycle_id": str(cycle_id),
            "group": old.group,
            "was": was,
            "management_line_changed": line != line_before,
        },
    )
    return new


async def _to_replace(
    uow: UnitOfWork, cycle: Cycle, *, old_rater_id: UUID, name: str, email: str, settings: Settings
) -> Rater:
    """The rater to replace, once the replacement is known to be allowed (Rejected says why not).
    The newcomer must be a new person to this 360: no rater it ever had (replaced ones included, and
    the participant) has the same mailbox (domain.mailbox_key)."""
    if cycle.status != "open":
        raise Rejected("raters can only be replaced while the 360 is open")
    old = await uow.session.get(Rater, old_rater_id)
    if old is None or old.cycle_id != cycle.id or old.status not in NEEDS_REPLACEMENT:
        raise Rejected("that rater does not need replacing")
    problems = replacement_problems(name=name, email=email, participant_email=cycle.email, settings=settings)
    if problems:
        raise Rejected("; ".join(message for _, message in problems))
    key = mailbox_key(email)
    if any(mailbox_key(rater.email) == key for rater in await all_raters(uow, cycle.id)):
        raise Rejected(
            "that person has already been nominated for this 360 (the same email address, ignoring case and any +tag)"
        )
    return old


def replacement_problems(
    *, name: str, email: str, settings: Settings, participant_email: str = ""
) -> list[tuple[str, str]]:
    """What is wrong with a replacement typed on the form, by field (never repeating the address);
    the participant's own address is refused when it is given (the use case always gives it)."""
    problems = []
    if not name.strip():
        problems.append(("name", "Enter the name of the person you want to ask"))
    elif len(name.strip()) > 200:
        problems.append(("name", "The name must be 200 characters or fewer"))
    if not email_is_valid(email):
        problems.append(("email", "Enter a valid email address, like name@example.nhs.uk"))
    elif why := rater_address_problem(
        email, participant_email=participant_email, allowed=settings.allowed_rater_domains()
    ):
        problems.append(("email", "This " + why if why.startswith("is ") else why[0].upper() + why[1:]))
    return problems
