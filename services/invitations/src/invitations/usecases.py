"""Use cases of the invitations service. Each runs inside the caller's unit of work; the caller
(a Kafka handler, an HTTP route, a job or the cohort CLI) commits, so one use case is one transaction."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from invitations.config import Settings
from invitations.domain import (
    MAX_LINE_ANNOUNCED,
    NEEDS_REPLACEMENT,
    PENDING,
    FacilitatorState,
    NominationLimits,
    Nominee,
    check_funding,
    check_nominations,
    count_groups,
    deadline_problem,
    due_reminder_stages,
    email_is_valid,
    extension_problem,
    fatigued,
    link_token,
    management_line,
    normalise_email,
    not_choosable_because,
    quote,
    token_sha256,
)
from invitations.tables import CreditAccount, CreditEntry, Cycle, Facilitator, OutgoingEmail, Rater, Reminder
from shared import mail_outbox
from shared.contracts.events import (
    AvailabilityPublished,
    CycleClosed,
    CycleCloseRequested,
    CycleDeadlineExtended,
    CycleOpened,
    CycleRequested,
    FacilitatorAccredited,
    FacilitatorRegistered,
    FacilitatorStatusChanged,
    InvitationSent,
    ManagementLineChanged,
    RaterDeclined,
    RaterNominated,
    RaterWithdrawn,
    RatingSubmitted,
    ReportReleased,
)
from shared.contracts.vocabulary import NOMINATED_GROUPS, FundingMethod, RaterGroup
from shared.db import OutboxMessage, UnitOfWork
from shared.errors import Rejected

log = logging.getLogger(__name__)

PRODUCER = "invitations"
REMINDER_LOCK_KEY = 0x72656D696E64  # "remind": one planner at a time across instances
ACTIVE_CYCLE = ("awaiting_approval", "open")
ACTIVE_RATER = ("nominated", "invited")


def limits_of(settings: Settings) -> NominationLimits:
    return NominationLimits(
        min_peers=settings.min_peers,
        min_direct_reports=settings.min_direct_reports,
        recommended=settings.recommended_raters,
        maximum=settings.max_raters,
    )


# --- starting a 360 ---------------------------------------------------------------------------


async def open_cycle(
    uow: UnitOfWork, request: CycleRequested, *, settings: Settings, has_direct_reports: bool | None = None
) -> bool:
    """Fund a requested 360, record its raters and invite them (or ask the line manager to approve
    the list first). False if the cycle already exists, so every way in is idempotent."""
    if await uow.session.get(Cycle, request.cycle_id) is not None:
        return False
    now = datetime.now(UTC)
    problem = deadline_problem(
        deadline=request.deadline, now=now, min_hours=settings.min_deadline_hours, max_days=settings.max_deadline_days
    )
    if problem:
        raise Rejected(problem)
    nominees = [Nominee(group=r.group, name=r.name, email=str(r.email)) for r in request.raters]
    person = request.participant
    check_nominations(
        participant_email=str(person.email),
        nominees=nominees,
        limits=limits_of(settings),
        has_direct_reports=has_direct_reports,
    )
    check_funding(method=request.funding.method, reference=request.funding.reference)
    if request.facilitator_id is not None:
        await check_facilitator(uow, request.facilitator_id)

    price = quote(net=settings.price_net, vat_rate=settings.vat_rate)
    reference = request.funding.reference.strip()
    if request.funding.method is FundingMethod.PROGRAMME_CREDIT:
        await use_credit(uow, reference=reference, cycle_id=request.cycle_id)

    cycle = Cycle(
        id=request.cycle_id,
        participant_id=person.participant_id,
        given_name=person.given_name,
        family_name=person.family_name,
        email=str(person.email),
        organisation=person.organisation,
        region=person.region,
        programme=request.programme,
        facilitator_id=request.facilitator_id,
        management_line=management_line(participant_email=str(person.email),
                                         requested=[str(e) for e in person.management_line]),
        preferred_language=person.preferred_language,
        deadline=request.deadline,
        original_deadline=request.deadline,
        funding_method=request.funding.method.value,
        funding_reference=reference,
        amount_net=price.net,
        amount_vat=price.vat,
        amount_due=price.total,
        status="awaiting_approval" if settings.require_line_manager_approval else "open",
        requested_by=request.producer,
        correlation_id=request.correlation_id or request.event_id,
    )
    uow.session.add(cycle)
    await uow.session.flush()
    self_rater = Nominee(group=RaterGroup.SELF, name=cycle.given_name, email=cycle.email)
    raters = [
        Rater(id=uuid4(), cycle_id=cycle.id, group=n.group.value, name=n.name.strip(), email=n.email.strip())
        for n in [self_rater, *nominees]
    ]
    uow.session.add_all(raters)
    await uow.session.flush()
    if cycle.status == "awaiting_approval":
        manager = next(r for r in raters if r.group == RaterGroup.LINE_MANAGER)
        queue_email(uow, kind="approval_request", cycle_id=cycle.id, rater_id=manager.id)
    else:
        invite_all(uow, cycle, raters, settings=settings)
    log.info(
        "cycle requested",
        extra={"cycle_id": str(cycle.id), "raters": len(raters), "status": cycle.status,
               "funding": cycle.funding_method},
    )
    return True


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
    secret = settings.link_secret.get_secret_value().encode()
    uow.emit(
        RaterNominated(
            producer=PRODUCER,
            correlation_id=cycle.correlation_id,
            cycle_id=cycle.id,
            rater_id=rater.id,
            group=RaterGroup(rater.group),
            link_token_sha256=token_sha256(link_token(secret=secret, rater_id=rater.id)),
            replaces_rater_id=rater.replaces_rater_id,
        )
    )
    queue_email(uow, kind="invitation", cycle_id=cycle.id, rater_id=rater.id)


def queue_email(
    uow: UnitOfWork, *, kind: str, cycle_id: UUID, rater_id: UUID, context: dict[str, Any] | None = None
) -> OutgoingEmail:
    """Queue an email to a rater; it is composed from their current state when it is sent (emails.build)."""
    return mail_outbox.queue_email(
        uow, OutgoingEmail(id=uuid4(), kind=kind, cycle_id=cycle_id, rater_id=rater_id, context=context)
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


# --- programme credits ------------------------------------------------------------------------


async def use_credit(uow: UnitOfWork, *, reference: str, cycle_id: UUID) -> int:
    """Take one credit for a cycle. The conditional UPDATE takes the row lock, so concurrent
    requests queue on it and the last credit goes to exactly one of them."""
    result = await uow.session.execute(
        update(CreditAccount)
        .where(col(CreditAccount.reference) == reference, col(CreditAccount.balance) > 0)
        .values(balance=col(CreditAccount.balance) - 1)
        .returning(col(CreditAccount.balance))
    )
    remaining = result.scalar_one_or_none()
    if remaining is None:
        if await uow.session.get(CreditAccount, reference) is None:
            raise Rejected("there is no programme credit account with that reference")
        raise Rejected("the programme credit account has no credits left; ask the programme team to buy more")
    uow.session.add(CreditEntry(reference=reference, kind="debit", delta=-1, cycle_id=cycle_id))
    return int(remaining)


async def refund_credit(uow: UnitOfWork, cycle: Cycle) -> None:
    if cycle.funding_method != FundingMethod.PROGRAMME_CREDIT.value:
        return
    inserted = await uow.session.execute(
        insert(CreditEntry)
        .values(reference=cycle.funding_reference, kind="refund", delta=1, cycle_id=cycle.id)
        .on_conflict_do_nothing()
        .returning(col(CreditEntry.id))
    )
    if inserted.first() is not None:
        await uow.session.execute(
            update(CreditAccount)
            .where(col(CreditAccount.reference) == cycle.funding_reference)
            .values(balance=col(CreditAccount.balance) + 1)
        )


async def top_up_credits(uow: UnitOfWork, *, reference: str, programme: str, credits: int, note: str = "") -> int:
    """Add pre-paid credits to a programme's account (created on first top-up); returns the balance."""
    if credits <= 0:
        raise Rejected("a top-up must add at least one credit")
    result = await uow.session.execute(
        insert(CreditAccount)
        .values(reference=reference, programme=programme, balance=credits)
        .on_conflict_do_update(
            index_elements=[col(CreditAccount.reference)],
            set_={"balance": CreditAccount.__table__.c.balance + credits},  # type: ignore[attr-defined]
        )
        .returning(col(CreditAccount.balance))
    )
    uow.session.add(CreditEntry(reference=reference, kind="top_up", delta=credits, note=note or None))
    return int(result.scalar_one())


async def credit_balance(uow: UnitOfWork, reference: str) -> tuple[int, int] | None:
    """(balance, sum of the ledger) — equal unless something bypassed the use cases."""
    account = await uow.session.get(CreditAccount, reference)
    if account is None:
        return None
    ledger = (
        await uow.session.execute(
            select(func.coalesce(func.sum(col(CreditEntry.delta)), 0)).where(col(CreditEntry.reference) == reference)
        )
    ).scalar_one()
    return account.balance, int(ledger)


# --- line manager approval --------------------------------------------------------------------


async def decide_approval(uow: UnitOfWork, cycle_id: UUID, *, approve: bool, settings: Settings) -> Cycle:
    """The line manager approves the nomination list (invitations go) or does not (credit refunded)."""
    cycle = await _cycle(uow, cycle_id)
    if cycle.status != "awaiting_approval":
        raise Rejected("this nomination list has already been decided")
    raters = await _raters(uow, cycle_id)
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


# --- what happens to raters -------------------------------------------------------------------


async def record_submission(uow: UnitOfWork, event: RatingSubmitted) -> None:
    """A rater submitted: stop reminding them and thank them (the participant needs no thanks)."""
    rater = await uow.session.get(Rater, event.rater_id)
    if rater is None or rater.cycle_id != event.cycle_id or rater.status == "submitted":
        return
    _set_status(rater, "submitted")
    uow.session.add(rater)
    if rater.group != RaterGroup.SELF:
        queue_email(uow, kind="thank_you", cycle_id=rater.cycle_id, rater_id=rater.id)


async def record_decline(uow: UnitOfWork, event: RaterDeclined) -> None:
    """A rater declined: the participant sees them as needing a replacement."""
    rater = await uow.session.get(Rater, event.rater_id)
    if rater is None or rater.cycle_id != event.cycle_id or rater.status not in ACTIVE_RATER:
        return
    _set_status(rater, "declined", note=event.reason)
    uow.session.add(rater)


async def record_bounce(uow: UnitOfWork, email: OutgoingEmail, code: int) -> None:
    """The mail server refused an invitation's address for good (the outbox stops mailing it):
    the invited rater needs replacing."""
    if email.kind != "invitation" or email.rater_id is None:
        return
    rater = await uow.session.get(Rater, email.rater_id)
    if rater is None or rater.status not in ACTIVE_RATER:
        return
    _set_status(rater, "bounced", note=f"the email server refused the address ({code})")
    uow.session.add(rater)
    if rater.group == RaterGroup.SELF:
        return
    cycle = await _cycle(uow, rater.cycle_id)
    uow.emit(
        RaterWithdrawn(
            event_id=mail_outbox.follow_up_event_id(email, "RaterWithdrawn"),
            producer=PRODUCER,
            correlation_id=cycle.correlation_id,
            cycle_id=cycle.id,
            rater_id=rater.id,
            group=RaterGroup(rater.group),
            reason="bounced",
        )
    )


async def replace_rater(
    uow: UnitOfWork, *, cycle_id: UUID, old_rater_id: UUID, name: str, email: str, settings: Settings
) -> Rater:
    """Nominate someone in place of a rater who declined or whose email bounced. A new line manager
    joins the participant's management line: ManagementLineChanged tells scheduling."""
    cycle = await _cycle(uow, cycle_id)
    if cycle.status != "open":
        raise Rejected("raters can only be replaced while the 360 is open")
    old = await uow.session.get(Rater, old_rater_id)
    if old is None or old.cycle_id != cycle_id or old.status not in NEEDS_REPLACEMENT:
        raise Rejected("that rater does not need replacing")
    problems = replacement_problems(name=name, email=email)
    if problems:
        raise Rejected("; ".join(message for _, message in problems))
    address = normalise_email(email)
    if address == normalise_email(cycle.email):
        raise Rejected("you rate yourself as 'self' automatically, so do not nominate yourself")
    taken = (
        await uow.session.execute(
            select(func.count()).where(col(Rater.cycle_id) == cycle_id, func.lower(col(Rater.email)) == address)
        )
    ).scalar_one()
    if taken:
        raise Rejected("that person has already been nominated for this 360")
    new = Rater(
        id=uuid4(), cycle_id=cycle_id, group=old.group, name=name.strip(), email=email.strip(),
        replaces_rater_id=old.id,
    )
    raters = await _raters(uow, cycle_id)
    line_before, line = announced_line(cycle, raters), announced_line(cycle, [*raters, new])
    if len(line) > MAX_LINE_ANNOUNCED:
        raise Rejected("no more line managers can be nominated for this 360; contact the programme team")
    uow.session.add(new)
    await uow.session.flush()
    was = old.status
    _set_status(old, "replaced")
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
    log.info("rater replaced", extra={"cycle_id": str(cycle_id), "group": old.group, "was": was,
                                      "management_line_changed": line != line_before})
    return new


def replacement_problems(*, name: str, email: str) -> list[tuple[str, str]]:
    problems = []
    if not name.strip():
        problems.append(("name", "Enter the name of the person you want to ask"))
    elif len(name.strip()) > 200:
        problems.append(("name", "The name must be 200 characters or fewer"))
    if not email_is_valid(email):
        problems.append(("email", "Enter a valid email address, like name@example.nhs.uk"))
    return problems


# --- the participant's controls ---------------------------------------------------------------


async def extend_deadline(uow: UnitOfWork, cycle_id: UUID, *, deadline: datetime, settings: Settings) -> Cycle:
    cycle = await _cycle(uow, cycle_id)
    if cycle.status != "open":
        raise Rejected("the deadline can only be changed while the 360 is open")
    problem = extension_problem(
        current=cycle.deadline,
        requested=deadline,
        original=cycle.original_deadline or cycle.deadline,
        now=datetime.now(UTC),
        max_extension_days=settings.max_extension_days,
    )
    if problem:
        raise Rejected(problem)
    cycle.deadline = deadline
    uow.session.add(cycle)
    uow.emit(
        CycleDeadlineExtended(
            producer=PRODUCER, correlation_id=cycle.correlation_id, cycle_id=cycle.id, deadline=deadline
        )
    )
    return cycle


async def request_close(uow: UnitOfWork, cycle_id: UUID) -> Cycle:
    """Ask the ratings service to close the 360 now (it emits CycleClosed)."""
    cycle = await _cycle(uow, cycle_id)
    if cycle.status == "closing":
        return cycle
    if cycle.status != "open":
        raise Rejected("only an open 360 can be closed early")
    cycle.status = "closing"
    cycle.close_requested_at = datetime.now(UTC)
    uow.session.add(cycle)
    uow.emit(
        CycleCloseRequested(
            producer=PRODUCER, correlation_id=cycle.correlation_id, cycle_id=cycle.id, requested_by="participant"
        )
    )
    return cycle


async def record_cycle_closed(uow: UnitOfWork, event: CycleClosed) -> None:
    """The rating window closed: tell the participant what happens next."""
    cycle = await uow.session.get(Cycle, event.cycle_id)
    if cycle is None or cycle.status == "closed":
        return
    cycle.status = "closed"
    cycle.closed_at = event.occurred_at
    uow.session.add(cycle)
    participant = await _participant(uow, cycle.id)
    queue_email(
        uow,
        kind="cycle_closed",
        cycle_id=cycle.id,
        rater_id=participant.id,
        context={"reason": event.reason.value,
                 "responses": {g.value: n for g, n in event.responses_per_group.items()}},
    )


async def record_report_released(uow: UnitOfWork, event: ReportReleased) -> None:
    """Shown on the participant's dashboard. The participant's email with their personal report link
    comes from reports, the only service that can sign it: invitations sends none, so there is one
    email, not two that disagree."""
    cycle = await uow.session.get(Cycle, event.cycle_id)
    if cycle is None or cycle.report_released_at is not None:
        return
    cycle.report_released_at = event.occurred_at
    uow.session.add(cycle)


# --- the participant's view -------------------------------------------------------------------


@dataclass
class GroupProgress:
    group: RaterGroup
    asked: int = 0
    responded: int = 0


@dataclass
class RaterNeed:
    rater_id: UUID
    name: str
    group: RaterGroup
    status: str
    note: str | None


@dataclass
class FatigueFlag:
    name: str
    group: RaterGroup
    open_elsewhere: int


@dataclass
class ParticipantView:
    cycle: Cycle
    progress: list[GroupProgress]
    needs_replacement: list[RaterNeed] = field(default_factory=list)
    fatigue: list[FatigueFlag] = field(default_factory=list)
    nominated: int = 0
    self_done: bool = False


async def participant_view(uow: UnitOfWork, cycle_id: UUID, *, settings: Settings) -> ParticipantView:
    """Counts per group only: the view never says which person has responded."""
    cycle = await _cycle(uow, cycle_id, lock=False)
    raters = list((await uow.session.execute(select(Rater).where(col(Rater.cycle_id) == cycle_id))).scalars())
    progress = {g: GroupProgress(g) for g in NOMINATED_GROUPS}
    view = ParticipantView(cycle=cycle, progress=[])
    for rater in raters:
        group = RaterGroup(rater.group)
        if group is RaterGroup.SELF:
            view.self_done = rater.status == "submitted"
            continue
        if rater.status in ("replaced", "bounced"):
            pass
        else:
            progress[group].asked += 1
            view.nominated += 1
            progress[group].responded += rater.status == "submitted"
        if rater.status in NEEDS_REPLACEMENT:
            view.needs_replacement.append(RaterNeed(rater.id, rater.name, group, rater.status, rater.status_note))
    view.progress = [p for p in progress.values() if p.asked]
    active = [r for r in raters if r.status in ACTIVE_RATER and r.group != RaterGroup.SELF]
    elsewhere = await open_requests(uow, [r.email for r in active], excluding_cycle=cycle_id)
    for rater in active:
        count = elsewhere.get(normalise_email(rater.email), 0)
        if fatigued(open_requests_elsewhere=count, threshold=settings.fatigue_threshold):
            view.fatigue.append(FatigueFlag(rater.name, RaterGroup(rater.group), count))
    return view


async def open_requests(uow: UnitOfWork, emails: list[str], *, excluding_cycle: UUID) -> dict[str, int]:
    """How many other open 360s each person has been asked to rate (and not yet answered)."""
    addresses = sorted({normalise_email(e) for e in emails})
    if not addresses:
        return {}
    rows = await uow.session.execute(
        select(func.lower(col(Rater.email)), func.count())
        .join(Cycle, col(Cycle.id) == col(Rater.cycle_id))
        .where(
            func.lower(col(Rater.email)).in_(addresses),
            col(Rater.cycle_id) != excluding_cycle,
            col(Rater.status).in_(ACTIVE_RATER),
            col(Rater.group) != RaterGroup.SELF.value,
            col(Cycle.status).in_(ACTIVE_CYCLE),
        )
        .group_by(func.lower(col(Rater.email)))
    )
    return {email: int(count) for email, count in rows.all()}


# --- facilitator read model -------------------------------------------------------------------


async def _facilitator(uow: UnitOfWork, facilitator_id: UUID) -> Facilitator:
    # events of one facilitator arrive on several topics in any order: upsert, then update fields
    await uow.session.execute(
        insert(Facilitator).values(id=facilitator_id, registered=False, accredited=False, modes="")
        .on_conflict_do_nothing()
    )
    found: Facilitator = (
        await uow.session.execute(select(Facilitator).where(col(Facilitator.id) == facilitator_id).with_for_update())
    ).scalar_one()
    return found


async def facilitator_registered(uow: UnitOfWork, event: FacilitatorRegistered) -> None:
    row = await _facilitator(uow, event.facilitator_id)
    row.registered = True
    row.name, row.region, row.organisation = event.name, event.region, event.organisation
    uow.session.add(row)


async def facilitator_accredited(uow: UnitOfWork, event: FacilitatorAccredited) -> None:
    row = await _facilitator(uow, event.facilitator_id)
    row.accredited = True
    uow.session.add(row)


async def facilitator_status_changed(uow: UnitOfWork, event: FacilitatorStatusChanged) -> None:
    row = await _facilitator(uow, event.facilitator_id)
    if row.status_at is None or event.occurred_at >= row.status_at:
        row.status, row.status_at = event.status, event.occurred_at
        uow.session.add(row)


async def availability_published(uow: UnitOfWork, event: AvailabilityPublished) -> None:
    row = await _facilitator(uow, event.facilitator_id)
    if row.availability_at is None or event.occurred_at >= row.availability_at:
        row.free_slots, row.next_free_slot_at = event.free_slots, event.next_free_slot_at
        row.modes = ",".join(m.value for m in event.modes)
        row.availability_at = event.occurred_at
        uow.session.add(row)


async def choosable_facilitators(uow: UnitOfWork) -> list[Facilitator]:
    rows = await uow.session.execute(
        select(Facilitator).order_by(col(Facilitator.free_slots) == 0, col(Facilitator.region), col(Facilitator.name))
    )
    return [
        f for f in rows.scalars()
        if not not_choosable_because(FacilitatorState(f.registered, f.accredited, f.status, f.free_slots))
    ]


# --- reminders --------------------------------------------------------------------------------


async def plan_reminders(uow: UnitOfWork, *, settings: Settings, now: datetime | None = None) -> int:
    """Queue one reminder per person whose stage has come, covering all their pending 360s.
    The (rater, stage) primary key makes each stage go out once, across restarts and instances."""
    now = now or datetime.now(UTC)
    if not (await uow.session.execute(select(func.pg_try_advisory_xact_lock(REMINDER_LOCK_KEY)))).scalar():
        return 0
    horizon = now + timedelta(days=max(settings.reminder_days_before, default=0))
    pending = (
        await uow.session.execute(
            select(Rater, Cycle.deadline)  # type: ignore[call-overload]
            .join(Cycle, col(Cycle.id) == col(Rater.cycle_id))
            .where(
                col(Rater.status) == PENDING,
                col(Rater.invited_at).is_not(None),
                col(Cycle.status) == "open",
                col(Cycle.deadline) > now,
                col(Cycle.deadline) <= horizon,
            )
        )
    ).all()
    if not pending:
        return 0
    done = await uow.session.execute(
        select(col(Reminder.rater_id), col(Reminder.stage_days)).where(
            col(Reminder.rater_id).in_([rater.id for rater, _ in pending])
        )
    )
    already = {(rater_id, stage) for rater_id, stage in done.all()}
    due: dict[str, list[tuple[Rater, int]]] = defaultdict(list)
    for rater, deadline in pending:
        assert rater.invited_at is not None
        stages = due_reminder_stages(
            deadline=deadline,
            invited_at=rater.invited_at,
            now=now,
            stages_days=settings.reminder_days_before,
            min_gap=timedelta(hours=settings.reminder_min_gap_hours),
        )
        for stage in stages:
            if (rater.id, stage) not in already:
                due[normalise_email(rater.email)].append((rater, stage))
    for items in due.values():
        first = min((r for r, _ in items), key=lambda r: (r.cycle_id, r.id))
        email = queue_email(uow, kind="reminder", cycle_id=first.cycle_id, rater_id=first.id)
        await uow.session.flush()
        uow.session.add_all(Reminder(rater_id=r.id, stage_days=stage, email_id=email.id) for r, stage in items)
    if due:
        log.info("reminders planned", extra={"emails": len(due), "stages": sum(len(v) for v in due.values())})
    return len(due)


async def pending_for_person(uow: UnitOfWork, email: str) -> list[tuple[Rater, Cycle]]:
    """Every open 360 this person still has to answer (what a consolidated reminder lists)."""
    rows = await uow.session.execute(
        select(Rater, Cycle)  # type: ignore[call-overload]
        .join(Cycle, col(Cycle.id) == col(Rater.cycle_id))
        .where(
            func.lower(col(Rater.email)) == normalise_email(email),
            col(Rater.status) == PENDING,
            col(Cycle.status) == "open",
            col(Cycle.deadline) > datetime.now(UTC),
        )
        .order_by(col(Cycle.deadline))
    )
    return [(rater, cycle) for rater, cycle in rows.all()]


# --- the mail outbox (shared.mail_outbox sends; these record what a sent invitation means) -----


async def record_email_sent(uow: UnitOfWork, email: OutgoingEmail) -> None:
    """An invitation went out: the rater is invited, and InvitationSent leaves in the same transaction.
    Its id comes from the email row, so a resend after a crash (or a second call) announces nothing new."""
    if email.kind != "invitation" or email.rater_id is None:
        return
    rater = await uow.session.get(Rater, email.rater_id)
    if rater is None:
        return
    if rater.status == "nominated":
        _set_status(rater, "invited")
        rater.invited_at = email.sent_at
        uow.session.add(rater)
    event_id = mail_outbox.follow_up_event_id(email, "InvitationSent")
    if await _emitted(uow, event_id):
        return
    cycle = await uow.session.get(Cycle, email.cycle_id)
    uow.emit(
        InvitationSent(
            event_id=event_id,
            occurred_at=email.sent_at or datetime.now(UTC),
            producer=PRODUCER,
            correlation_id=(cycle.correlation_id or cycle.id) if cycle else None,
            cycle_id=email.cycle_id,
            rater_id=rater.id,
            group=RaterGroup(rater.group),
        )
    )


async def _emitted(uow: UnitOfWork, event_id: UUID) -> bool:
    """Whether this service's outbox already holds the event (flushed first, so this transaction's too)."""
    found = await uow.session.execute(select(col(OutboxMessage.id)).where(col(OutboxMessage.event_id) == event_id))
    return found.first() is not None


# --- helpers ----------------------------------------------------------------------------------


async def _cycle(uow: UnitOfWork, cycle_id: UUID, *, lock: bool = True) -> Cycle:
    cycle = await uow.session.get(Cycle, cycle_id, with_for_update=lock)
    if cycle is None:
        raise Rejected("there is no such 360")
    return cycle


async def _raters(uow: UnitOfWork, cycle_id: UUID) -> list[Rater]:
    """Every rater of the cycle, the participant and replaced ones included."""
    rows = await uow.session.execute(select(Rater).where(col(Rater.cycle_id) == cycle_id))
    return list(rows.scalars())


async def _participant(uow: UnitOfWork, cycle_id: UUID) -> Rater:
    row = await uow.session.execute(
        select(Rater).where(col(Rater.cycle_id) == cycle_id, col(Rater.group) == RaterGroup.SELF.value)
    )
    participant: Rater = row.scalar_one()
    return participant


def _set_status(rater: Rater, status: str, *, note: str | None = None) -> None:
    rater.status = status
    rater.status_changed_at = datetime.now(UTC)
    if note is not None:
        rater.status_note = note
