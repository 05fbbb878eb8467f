"""Starting a 360: check and fund the request, record its raters, then invite them (or ask the line
manager to approve the list first). The web page, the JSON API, Kafka and the cohort import all come here."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy import delete, select
from sqlmodel import col

from invitations import links
from invitations.config import Settings
from invitations.domain import (
    AWAITING_CONFIRMATION,
    FacilitatorState,
    Nominee,
    check_funding,
    check_nominations,
    confirmation_expired,
    count_groups,
    deadline_problem,
    management_line,
    not_choosable_because,
    quote,
)
from invitations.tables import Cycle, Facilitator, OutgoingEmail, Rater
from invitations.usecases.common import PRODUCER, all_raters, get_cycle, limits_of, queue_email
from invitations.usecases.funding import check_credit, use_credit
from shared.contracts.events import CycleOpened, CycleRequested, RaterNominated
from shared.contracts.vocabulary import FundingMethod, RaterGroup
from shared.db import UnitOfWork
from shared.errors import Rejected
from shared.links import token_sha256

log = logging.getLogger(__name__)


async def open_cycle(
    uow: UnitOfWork,
    request: CycleRequested,
    *,
    settings: Settings,
    has_direct_reports: bool | None = None,
    confirm_first: bool = False,
) -> bool:
    """Fund a requested 360, record its raters and invite them (or ask the line manager to approve
    the list first). False if the cycle already exists, so every way in is idempotent.
    `confirm_first` (a request from the public page or API): every check runs, the raters are
    recorded, and only the participant is emailed a link to confirm; nothing is announced, nobody
    else contacted and no credit taken until they confirm (confirm_cycle)."""
    if await uow.session.get(Cycle, request.cycle_id) is not None:
        return False
    nominees = await _checked(
        uow, request, settings=settings, has_direct_reports=has_direct_reports, confirm_first=confirm_first
    )
    cycle = _new_cycle(request, settings=settings)
    if confirm_first:
        cycle.status = AWAITING_CONFIRMATION
    uow.session.add(cycle)
    await uow.session.flush()
    self_rater = Nominee(group=RaterGroup.SELF, name=cycle.given_name, email=cycle.email)
    raters = [
        Rater(id=uuid4(), cycle_id=cycle.id, group=n.group.value, name=n.name.strip(), email=n.email.strip())
        for n in [self_rater, *nominees]
    ]
    uow.session.add_all(raters)
    await uow.session.flush()
    if confirm_first:
        queue_email(uow, kind="confirm_request", cycle_id=cycle.id, rater_id=raters[0].id)
    else:
        _start(uow, cycle, raters, settings=settings)
    log.info(
        "cycle requested",
        extra={
            "cycle_id": str(cycle.id),
            "raters": len(raters),
            "status": cycle.status,
            "funding": cycle.funding_method,
        },
    )
    return True


async def _checked(
    uow: UnitOfWork,
    request: CycleRequested,
    *,
    settings: Settings,
    has_direct_reports: bool | None,
    confirm_first: bool,
) -> list[Nominee]:
    """The request's nominees, once every rule passed (Rejected says why not) and it is funded
    (a credit is only checked when the participant is still to confirm: confirm_cycle takes it)."""
    problem = deadline_problem(
        deadline=request.deadline,
        now=datetime.now(UTC),
        min_hours=settings.min_deadline_hours,
        max_days=settings.max_deadline_days,
    )
    if problem:
        raise Rejected(problem)
    nominees = [Nominee(group=r.group, name=r.name, email=str(r.email)) for r in request.raters]
    check_nominations(
        participant_email=str(request.participant.email),
        nominees=nominees,
        limits=limits_of(settings),
        has_direct_reports=has_direct_reports,
    )
    check_funding(method=request.funding.method, reference=request.funding.reference)
    if request.facilitator_id is not None:
        await check_facilitator(uow, request.facilitator_id)
    if request.funding.method is FundingMethod.PROGRAMME_CREDIT:
        if confirm_first:
            await check_credit(uow, reference=request.funding.reference.strip())
        else:
            await use_credit(uow, reference=request.funding.reference.strip(), cycle_id=request.cycle_id)
    return nominees


def _start(uow: UnitOfWork, cycle: Cycle, raters: list[Rater], *, settings: Settings) -> None:
    """Ask the line manager to approve the list, or invite everyone now."""
    if cycle.status == "awaiting_approval":
        manager = next(r for r in raters if r.group == RaterGroup.LINE_MANAGER)
        queue_email(uow, kind="approval_request", cycle_id=cycle.id, rater_id=manager.id)
    else:
        invite_all(uow, cycle, raters, settings=settings)


async def confirm_cycle(uow: UnitOfWork, cycle_id: UUID, *, settings: Settings) -> Cycle:
    """The participant confirmed a 360 they asked for on the public page or API (by the emailed
    link): take its credit, then start it as any other (Rejected says why not: expired, already
    confirmed, no credit left). Confirming twice changes nothing."""
    cycle = await get_cycle(uow, cycle_id)
    if cycle.status != AWAITING_CONFIRMATION:
        return cycle
    if confirmation_expired(cycle.created_at, now=datetime.now(UTC), hours=settings.confirmation_hours):
        raise Rejected("this confirmation link has expired; start your 360 again")
    if cycle.funding_method == FundingMethod.PROGRAMME_CREDIT.value:
        await use_credit(uow, reference=cycle.funding_reference, cycle_id=cycle.id)
    cycle.status = "awaiting_approval" if settings.require_line_manager_approval else "open"
    uow.session.add(cycle)
    _start(uow, cycle, await all_raters(uow, cycle.id), settings=settings)
    log.info("cycle confirmed", extra={"cycle_id": str(cycle.id), "status": cycle.status})
    return cycle


async def purge_unconfirmed(uow: UnitOfWork, *, settings: Settings) -> int:
    """Forget requests nobody confirmed in time: the 360, its raters' names and addresses, and the
    confirmation email (nothing about them ever left this service). How many were forgotten."""
    cutoff = datetime.now(UTC) - timedelta(hours=settings.confirmation_hours)
    stale = (
        select(col(Cycle.id))
        .where(col(Cycle.status) == AWAITING_CONFIRMATION, col(Cycle.created_at) <= cutoff)
        .scalar_subquery()
    )
    await uow.session.execute(delete(OutgoingEmail).where(col(OutgoingEmail.cycle_id).in_(stale)))
    await uow.session.execute(delete(Rater).where(col(Rater.cycle_id).in_(stale)))
    result = await uow.session.execute(delete(Cycle).where(col(Cycle.id).in_(stale)))
    forgotten = int(getattr(result, "rowcount", 0) or 0)
    if forgotten:
        log.info("unconfirmed requests forgotten", extra={"cycles": forgotten})
    return forgotten


def _new_cycle(request: CycleRequested, *, settings: Settings) -> Cycle:
    """The cycle row of a request that passed every check, priced now."""
    person = request.participant
    price = quote(net=settings.price_net, vat_rate=settings.vat_rate)
    return Cycle(
        id=request.cycle_id,
        participant_id=person.participant_id,
        given_name=person.given_name,
        family_name=person.family_name,
        email=str(person.email),
        organisation=person.organisation,
        region=person.region,
        programme=request.programme,
        facilitator_id=request.facilitator_id,
        management_line=management_line(
            participant_email=str(person.email), requested=[str(e) for e in person.management_line]
        ),
        preferred_language=person.preferred_language,
        deadline=request.deadline,
        original_deadline=request.deadline,
        funding_method=request.funding.method.value,
        funding_reference=request.funding.reference.strip(),
        amount_net=price.net,
        amount_vat=price.vat,
        amount_due=price.total,
        status="awaiting_approval" if settings.require_line_manager_approval else "open",
        requested_by=request.producer,
        correlation_id=request.correlation_id or request.event_id,
    )


def invite_all(uow: UnitOfWork, cycle: Cycle, raters: list[Rater], *, settings: Settings) -> None:
    """Announce the opened cycle and its raters, and queue every invitation."""
    line = announced_line(cycle, raters)
    uow.emit(
        CycleOpened(
            producer=PRODUCER,
            correlation_id=cycle.correlation_id,
            cycle_id=cycle.id,
            participant_id=cycle.participant_id,
            participant_name=f"{cycle.given_name} {cycle.family_name}",
            participant_email=cycle.email,
            organisation=cycle.organisation,
            region=cycle.region,
            programme=cycle.programme,
            facilitator_id=cycle.facilitator_id,
            management_line=line,
            preferred_language=cycle.preferred_language,
            deadline=cycle.deadline,
            invited_per_group=count_groups(r.group for r in raters),
        )
    )
    for rater in raters:
        nominate(uow, cycle, rater, settings=settings)


def announced_line(cycle: Cycle, raters: Iterable[Rater]) -> list[str]:
    """The management line CycleOpened and ManagementLineChanged carry, from all the cycle's raters
    (replaced ones too: a former line manager is still in the participant's line)."""
    return management_line(
        participant_email=cycle.email,
        requested=cycle.management_line,
        nominated=[(r.group, r.email) for r in _in_nomination_order(raters)],
    )


def _in_nomination_order(raters: Iterable[Rater]) -> list[Rater]:
    """A replacement after the rater it replaces (the table keeps no nomination time), so the line
    is announced in the same order every time."""
    by_id = {r.id: r for r in raters}

    def depth(rater: Rater) -> int:
        steps, replaced = 0, rater.replaces_rater_id
        while replaced is not None and replaced in by_id and steps < len(by_id):
            steps, replaced = steps + 1, by_id[replaced].replaces_rater_id
        return steps

    return sorted(by_id.values(), key=lambda r: (depth(r), str(r.id)))


def nominate(uow: UnitOfWork, cycle: Cycle, rater: Rater, *, settings: Settings) -> None:
    """Announce the rater (with the hash of a link token derived with the current key) and queue their invitation."""
    _announce_link(uow, cycle, rater, settings=settings)
    queue_email(uow, kind="invitation", cycle_id=cycle.id, rater_id=rater.id)


def keep_link_key(uow: UnitOfWork, cycle: Cycle, rater: Rater, *, settings: Settings) -> bool:
    """Call before composing a rater's link. Their token is derived with the key it was first derived
    with while that key is still configured (current or previous), so the link stays the one ratings
    knows. If that key has been retired, the rater is re-keyed: a token derived with the current key,
    announced again in RaterNominated so ratings replaces the hash (the old link stops working).
    True if the rater was re-keyed."""
    if links.rater_token(settings.signing_keys(), rater.id, rater.link_key_id) is not None:
        return False
    _announce_link(uow, cycle, rater, settings=settings)
    log.info("rater link re-keyed", extra={"cycle_id": str(cycle.id), "rater_id": str(rater.id)})
    return True


def _announce_link(uow: UnitOfWork, cycle: Cycle, rater: Rater, *, settings: Settings) -> None:
    keys = settings.signing_keys()
    rater.link_key_id = keys.current_id
    uow.session.add(rater)
    token = links.rater_token(keys, rater.id, rater.link_key_id)
    assert token is not None  # the current key is always configured
    uow.emit(
        RaterNominated(
            producer=PRODUCER,
            correlation_id=cycle.correlation_id,
            cycle_id=cycle.id,
            rater_id=rater.id,
            group=RaterGroup(rater.group),
            link_token_sha256=token_sha256(token),
            replaces_rater_id=rater.replaces_rater_id,
        )
    )


async def check_facilitator(uow: UnitOfWork, facilitator_id: UUID) -> None:
    """A facilitator we know of must be choosable; an unknown one is left to scheduling to check."""
    known = await uow.session.get(Facilitator, facilitator_id)
    if known is None:
        return
    why = not_choosable_because(
        FacilitatorState(
            registered=known.registered, accredited=known.accredited, status=known.status, free_slots=known.free_slots
        )
    )
    if why:
        raise Rejected(f"the chosen facilitator {why}; choose another facilitator or leave the choice for later")
