"""Booking use cases: the participant (CycleOpened, management line changes), the booking request
(ReportGenerated), the times offered, choosing one, and the attention list of cycles with nothing to
offer. Each runs inside the caller's unit of work; the caller commits (one use case, one transaction)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from sqlalchemy import ARRAY, Boolean, DateTime, String, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from scheduling import domain, ics
from scheduling.config import Settings
from scheduling.domain import SessionStatus
from scheduling.tables import (
    BookingRequest,
    Facilitator,
    FeedbackSession,
    Participant,
)
from scheduling.usecases.common import (
    MODE_PHRASES,
    SLOT_TAKEN,
    announce_booked,
    free_slots,
    links,
    live_bookings,
    live_session_of,
    lock_facilitator_month,
    queue_email,
)
from shared.contracts.events import (
    CycleOpened,
    ManagementLineChanged,
    ReportGenerated,
)
from shared.db import UnitOfWork
from shared.errors import Rejected

log = logging.getLogger(__name__)


# On the attention list while the session stands (shown to the regional lead: no names).
BOOKED_ACROSS_THE_LINE = (
    "the booked facilitator is now in the participant's management line: cancel the "
    "session so the participant can choose another time"
)


class Outcome(StrEnum):
    OFFERED = "offered"
    ALREADY_BOOKED = "already_booked"
    UNSCHEDULED = "unscheduled"
    BOOKED_NEEDS_ATTENTION = "booked_needs_attention"  # booked, but with a facilitator now in the line


@dataclass(frozen=True)
class Option:
    """A slot the participant may choose, with what they need to know to choose it."""

    slot: domain.FreeSlot
    facilitator_name: str
    languages: tuple[str, ...]


@dataclass(frozen=True)
class Offer:
    options: list[Option]
    chose_facilitator: bool  # the participant chose a facilitator and these are their times
    choice_unavailable: bool  # they chose one, but that facilitator cannot take the session now
    language: str | None = None  # the language matched on (asked for, else preferred); None: any


# A cycle's management line only grows (invitations keeps a replaced line manager in it), so the stored
# line is the union of every line received: events applied in any order, late or twice, and producers'
# clocks never matter. New addresses go after the known ones, in the order they came.
_MERGED_LINE = literal_column(
    "participant.management_line || ARRAY(SELECT address FROM unnest(excluded.management_line) "
    "WITH ORDINALITY AS incoming(address, position) "
    "WHERE address <> ALL(participant.management_line) ORDER BY position)",
    type_=ARRAY(String),
)


_LINE_GROWS = literal_column("NOT (excluded.management_line <@ participant.management_line)", type_=Boolean)


_LINE_AS_OF = literal_column(
    "greatest(participant.management_line_as_of, excluded.management_line_as_of)", type_=DateTime(timezone=True)
)


def _line(addresses: Iterable[str]) -> list[str]:
    line: list[str] = []
    for address in addresses:
        key = str(address).strip().casefold()
        if key and key not in line:
            line.append(key)
    return line


async def record_participant(uow: UnitOfWork, opened: CycleOpened) -> None:
    """Keep what booking needs from CycleOpened (contact email, organisation, chosen facilitator,
    management line for conflicts of interest, preferred session language). Addresses from a
    ManagementLineChanged that arrived first are kept (the line is merged, never replaced)."""
    values = {
        "cycle_id": opened.cycle_id,
        "participant_id": opened.participant_id,
        "name": opened.participant_name,
        "email": str(opened.participant_email) if opened.participant_email else None,
        "organisation": opened.organisation,
        "region": opened.region,
        "facilitator_id": opened.facilitator_id,
        "management_line": _line(opened.management_line),
        "management_line_as_of": opened.occurred_at,
        "preferred_language": opened.preferred_language,
    }
    statement = insert(Participant).values(values)
    line = {"management_line": _MERGED_LINE, "management_line_as_of": _LINE_AS_OF}
    await uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=[col(Participant.cycle_id)],
            set_={**{k: v for k, v in values.items() if k != "cycle_id" and k not in line}, **line},
        )
    )


async def change_management_line(
    uow: UnitOfWork, changed: ManagementLineChanged, *, settings: Settings, now: datetime
) -> bool:
    """Add the line's new addresses to the participant's management line (even before their
    CycleOpened). A session still to come with a facilitator now in the line goes on the regional
    lead's attention list. False if every address was already known."""
    statement = insert(Participant).values(
        cycle_id=changed.cycle_id,
        management_line=_line(changed.management_line),
        management_line_as_of=changed.occurred_at,
    )
    applied = await uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=[col(Participant.cycle_id)],
            set_={"management_line": _MERGED_LINE, "management_line_as_of": _LINE_AS_OF},
            where=_LINE_GROWS,
        ).returning(statement.table.c.cycle_id)
    )
    if applied.first() is None:
        log.info("management line already known", extra={"cycle_id": str(changed.cycle_id)})
        return False
    request = await uow.session.get(BookingRequest, changed.cycle_id)
    live = await live_session_of(uow, cycle_id=changed.cycle_id)
    if (
        request is not None
        and live is not None
        and await _booked_across_the_line(uow, request, live, settings=settings, now=now)
    ):
        log.warning(
            "booked facilitator is now in the participant's management line",
            extra={
                "cycle_id": str(request.cycle_id),
                "session_id": str(live.id),
                "facilitator_id": str(live.facilitator_id),
            },
        )
        _needs_attention(uow, request, now=now, reason=BOOKED_ACROSS_THE_LINE)
    return True


async def request_booking(uow: UnitOfWork, report: ReportGenerated, *, settings: Settings, now: datetime) -> Outcome:
    """A report is ready: open the participant's booking and email them the link to choose a time."""
    existing = await uow.session.get(BookingRequest, report.cycle_id)
    if existing is None:
        existing = BookingRequest(
            cycle_id=report.cycle_id,
            report_id=report.report_id,
            participant_id=report.participant_id,
            organisation=report.organisation,
            region=report.region,
            chosen_facilitator_id=report.facilitator_id,
            correlation_id=report.correlation_id or report.event_id,
            created_at=now,
        )
        uow.session.add(existing)
        await uow.session.flush()
    return await offer_booking(uow, existing, settings=settings, now=now)


async def offer_booking(uow: UnitOfWork, request: BookingRequest, *, settings: Settings, now: datetime) -> Outcome:
    """Email the booking link once there are times to offer; otherwise keep the cycle on the attention list
    (also while it is booked with a facilitator now in the participant's management line)."""
    live = await live_session_of(uow, cycle_id=request.cycle_id)
    if live is not None:
        if await _booked_across_the_line(uow, request, live, settings=settings, now=now):
            _needs_attention(uow, request, now=now, reason=BOOKED_ACROSS_THE_LINE)
            return Outcome.BOOKED_NEEDS_ATTENTION
        _mark_scheduled(uow, request)
        return Outcome.ALREADY_BOOKED
    if request.offered_at is not None:
        _mark_scheduled(uow, request)
        return Outcome.OFFERED
    participant = await uow.session.get(Participant, request.cycle_id)
    if participant is None or not participant.email:
        await _record_unscheduled(uow, request, now=now, reason="the participant's email is not known yet")
        return Outcome.UNSCHEDULED
    offer = await offered_slots(uow, request, settings=settings, now=now)
    if not offer.options:
        await _record_unscheduled(uow, request, now=now, reason=_nothing_to_offer(offer, settings=settings))
        return Outcome.UNSCHEDULED
    queue_email(
        uow,
        kind="booking_offer",
        to=participant.email,
        cycle_id=request.cycle_id,
        context={"name": participant.name, "link": links(settings).booking_url(request.cycle_id, now=now)},
    )
    request.offered_at = now
    uow.session.add(request)
    _mark_scheduled(uow, request)
    log.info("booking offered", extra={"cycle_id": str(request.cycle_id), "options": len(offer.options)})
    return Outcome.OFFERED


def _nothing_to_offer(offer: Offer, *, settings: Settings) -> str:
    """Why a cycle is on the attention list (shown to the regional lead, so it names the language)."""
    if offer.language:
        return (
            f"no facilitator who speaks {domain.language_name(offer.language)} has a free slot at least "
            f"{settings.min_notice_hours}h ahead and monthly capacity"
        )
    return (
        f"no free slot at least {settings.min_notice_hours}h ahead with a matching facilitator who has monthly capacity"
    )


def _match_request(
    request: BookingRequest, participant: Participant | None, *, settings: Settings, language: str | None
) -> domain.MatchRequest:
    return domain.MatchRequest(
        organisation=request.organisation,
        region=request.region,
        chosen_facilitator_id=request.chosen_facilitator_id,
        participant_email_domain=domain.email_domain(participant.email if participant else None),
        language=language,
        conflict_rules=frozenset(settings.conflict_rules),
        conflicts_apply_to_choice=settings.conflict_rules_apply_to_choice,
        participant_email=participant.email if participant else None,
        management_line=frozenset(participant.management_line) if participant else frozenset(),
    )


async def _booked_across_the_line(
    uow: UnitOfWork, request: BookingRequest, session: FeedbackSession, *, settings: Settings, now: datetime
) -> bool:
    """The session is still to come, with a facilitator the participant's management line now rules out."""
    if SessionStatus(session.status) not in domain.CHANGEABLE_STATUSES or session.starts_at <= now:
        return False
    facilitator = await uow.session.get(Facilitator, session.facilitator_id)
    # populate_existing: the line may have just been changed by a statement the loaded row has not seen
    participant = await uow.session.get(Participant, request.cycle_id, populate_existing=True)
    if facilitator is None or participant is None:
        return False
    match = _match_request(request, participant, settings=settings, language=None)
    return domain.booked_across_the_line(facilitator.rules_view(), request=match)


async def offered_slots(
    uow: UnitOfWork, request: BookingRequest, *, settings: Settings, now: datetime, language: str | None = None
) -> Offer:
    """The times a participant may choose now: their chosen facilitator's, else matched ones.

    `language` is what the booking page asked for; without it, the participant's preferred language
    (if they gave one) filters the matches; `domain.ANY_LANGUAGE` shows every language.
    """
    tz = ZoneInfo(settings.timezone)
    participant = await uow.session.get(Participant, request.cycle_id)
    language = domain.session_language(language, preferred=participant.preferred_language if participant else None)
    match = _match_request(request, participant, settings=settings, language=language)
    active = await uow.session.execute(
        select(Facilitator).where(col(Facilitator.status) == domain.FacilitatorStatus.ACTIVE.value)
    )
    facilitators = {f.id: f for f in active.scalars()}
    ranked = domain.ranked_facilitators((f.rules_view() for f in facilitators.values()), request=match)
    chose = request.chosen_facilitator_id is not None
    if not ranked:
        return Offer(options=[], chose_facilitator=False, choice_unavailable=chose, language=language)
    not_before = now + timedelta(hours=settings.min_notice_hours)
    ids = [facilitator.id for _, facilitator in ranked]
    free = await free_slots(uow, facilitator_ids=ids, not_before=not_before, per_facilitator=settings.slot_search_limit)
    this_month = domain.month_bounds(domain.month_key(now, tz=tz), tz=tz)[0]
    booked = domain.count_by_month(await live_bookings(uow, facilitator_ids=ids, since=this_month), tz=tz)
    options = domain.booking_options(ranked=ranked, free_slots=free, booked=booked, not_before=not_before, tz=tz)
    offered = domain.offer(options, ranked=ranked, limit=settings.offer_limit)
    own_choice = chose and any(o.facilitator_id == request.chosen_facilitator_id for o in offered)
    return Offer(
        options=[
            Option(
                slot=o,
                facilitator_name=facilitators[o.facilitator_id].name,
                languages=tuple(facilitators[o.facilitator_id].languages),
            )
            for o in offered
        ],
        chose_facilitator=own_choice,
        choice_unavailable=chose and not own_choice,
        language=language,
    )


async def choose_slot(
    uow: UnitOfWork, *, cycle_id: UUID, slot_id: UUID, language: str | None, settings: Settings, now: datetime
) -> FeedbackSession:
    """The participant picked a time: book it (or ask the facilitator to confirm it)."""
    request = await uow.session.get(BookingRequest, cycle_id)
    if request is None:
        raise Rejected("There is no feedback session to book for this link")
    if await live_session_of(uow, cycle_id=cycle_id) is not None:
        raise Rejected("Your feedback session is already booked")
    offer = await offered_slots(uow, request, settings=settings, now=now, language=language)
    chosen = next((o.slot for o in offer.options if o.slot.id == slot_id), None)
    if chosen is None:
        raise Rejected(SLOT_TAKEN)
    facilitator = await uow.session.get(Facilitator, chosen.facilitator_id)
    assert facilitator is not None
    tz = ZoneInfo(settings.timezone)
    automatic = settings.booking_confirmation == "automatic"
    session_id = uuid4()
    path = ics.ics_path(settings.output_dir, cycle_id=cycle_id)
    try:
        async with uow.session.begin_nested():
            await lock_facilitator_month(uow, facilitator, starts_at=chosen.starts_at, tz=tz, excluding=None)
            await uow.session.execute(
                insert(FeedbackSession).values(
                    id=session_id,
                    cycle_id=cycle_id,
                    report_id=request.report_id,
                    facilitator_id=chosen.facilitator_id,
                    slot_id=chosen.id,
                    starts_at=chosen.starts_at,
                    ends_at=chosen.ends_at,
                    mode=chosen.mode,
                    location=chosen.location,
                    status=(SessionStatus.BOOKED if automatic else SessionStatus.REQUESTED).value,
                    ics_path=str(path),
                    confirmed_at=now if automatic else None,
                    created_at=now,
                    updated_at=now,
                )
            )
    except IntegrityError as error:
        # The exclusion constraint or a unique index caught a concurrent booking of this time or cycle.
        if await live_session_of(uow, cycle_id=cycle_id) is not None:
            raise Rejected("Your feedback session is already booked") from error
        raise Rejected(SLOT_TAKEN) from error
    session = await uow.session.get(FeedbackSession, session_id)
    assert session is not None
    if automatic:
        await announce_booked(uow, session, request=request, settings=settings, now=now)
    else:
        await _ask_to_confirm(uow, session, facilitator=facilitator, settings=settings, now=now)
    log.info(
        "feedback session chosen",
        extra={"cycle_id": str(cycle_id), "session_id": str(session_id), "status": session.status},
    )
    return session


async def _ask_to_confirm(
    uow: UnitOfWork, session: FeedbackSession, *, facilitator: Facilitator, settings: Settings, now: datetime
) -> None:
    """A requested time: the facilitator is asked to confirm it by a deadline, the participant told it waits."""
    tz = ZoneInfo(settings.timezone)
    cycle_id = session.cycle_id
    participant = await uow.session.get(Participant, cycle_id)
    when = domain.format_when(session.starts_at, session.ends_at, tz=tz)
    confirm_by = min(
        now + timedelta(hours=settings.confirm_within_hours),
        session.starts_at - timedelta(hours=settings.confirm_before_start_hours),
    ).astimezone(tz)
    queue_email(
        uow,
        kind="booking_requested",
        to=facilitator.email,
        cycle_id=cycle_id,
        context={
            "facilitator": facilitator.name,
            "when": when,
            "mode": MODE_PHRASES[session.mode],
            "confirm_by": f"{confirm_by:%H:%M} on {confirm_by:%A} {confirm_by.day} {confirm_by:%B %Y}",
            "link": links(settings).facilitator(facilitator),
        },
    )
    if participant is not None and participant.email:
        queue_email(
            uow,
            kind="booking_pending",
            to=participant.email,
            cycle_id=cycle_id,
            context={
                "name": participant.name,
                "when": when,
                "mode": MODE_PHRASES[session.mode],
                "facilitator": facilitator.name,
                "link": links(settings).booking_url(cycle_id, now=now),
            },
        )


def _mark_scheduled(uow: UnitOfWork, request: BookingRequest) -> None:
    """Offered or booked: the cycle leaves the attention list (its attempts stay as a record)."""
    if request.unscheduled_reason is not None:
        request.unscheduled_reason = None
        uow.session.add(request)


def _needs_attention(uow: UnitOfWork, request: BookingRequest, *, now: datetime, reason: str) -> None:
    """Keep a booked cycle on the attention list (not an attempt to offer: `offer_attempts` stays). The retry
    job looks at it again each round and takes it off once the session is cancelled or has begun."""
    request.unscheduled_reason = reason
    request.last_offer_attempt_at = now
    uow.session.add(request)


async def _record_unscheduled(uow: UnitOfWork, request: BookingRequest, *, now: datetime, reason: str) -> None:
    """Keep the cycle on the needs-attention list (the reason shown to the lead, attempts counted)."""
    attempts = (
        await uow.session.execute(
            update(BookingRequest)
            .where(col(BookingRequest.cycle_id) == request.cycle_id)
            .values(
                unscheduled_reason=reason,
                offer_attempts=col(BookingRequest.offer_attempts) + 1,
                last_offer_attempt_at=now,
            )
            .returning(col(BookingRequest.offer_attempts))
        )
    ).scalar_one()
    # Warn once per cycle; the retry job tries again every minute and the list is at /api/unscheduled.
    (log.warning if attempts == 1 else log.debug)(
        "feedback session could not be offered", extra={"cycle_id": str(request.cycle_id), "attempts": attempts}
    )


async def claim_unscheduled(uow: UnitOfWork, *, attempted_before: datetime) -> BookingRequest | None:
    """Lock the longest-waiting unscheduled cycle not yet retried in this round (other instances skip it)."""
    result = await uow.session.execute(
        select(BookingRequest)
        .where(
            col(BookingRequest.unscheduled_reason).is_not(None),
            col(BookingRequest.last_offer_attempt_at) < attempted_before,
        )
        .order_by(col(BookingRequest.last_offer_attempt_at))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return result.scalars().first()
