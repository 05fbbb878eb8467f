"""Use cases of the scheduling service: offering, booking and changing feedback sessions, the
mail outbox, reminders and escalations. Each runs inside the caller's unit of work; the caller
(a Kafka handler, a page or a background job) commits, so one use case is one transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from sqlalchemy import ARRAY, Boolean, DateTime, String, and_, exists, func, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from scheduling import domain, ics, mail
from scheduling.config import Settings
from scheduling.domain import LinkPurpose, SessionStatus
from scheduling.tables import (
    BookingRequest,
    Facilitator,
    FeedbackSession,
    OutgoingEmail,
    Participant,
    RegionalLead,
    Slot,
)
from shared import mail_outbox
from shared.contracts.events import (
    AvailabilityPublished,
    CycleOpened,
    FacilitatorAccredited,
    FacilitatorRegistered,
    FacilitatorStatusChanged,
    FeedbackSessionCancelled,
    FeedbackSessionCompleted,
    FeedbackSessionRescheduled,
    FeedbackSessionScheduled,
    ManagementLineChanged,
    ReportGenerated,
)
from shared.contracts.vocabulary import SessionMode
from shared.db import UnitOfWork
from shared.errors import Rejected

log = logging.getLogger(__name__)

LIVE = col(FeedbackSession.status) != SessionStatus.CANCELLED.value
MODE_PHRASES = {SessionMode.VIRTUAL.value: "online (video call)", SessionMode.IN_PERSON.value: "in person"}
SLOT_TAKEN = "That time has just been taken by someone else. Choose another time"
# On the attention list while the session stands (shown to the regional lead: no names).
BOOKED_ACROSS_THE_LINE = ("the booked facilitator is now in the participant's management line: cancel the "
                          "session so the participant can choose another time")
Actor = Literal["participant", "facilitator", "admin"]


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


def links(settings: Settings) -> Links:
    return Links(secret=settings.link_secret.get_secret_value().encode(), base_url=settings.base_url)


@dataclass(frozen=True)
class Links:
    secret: bytes
    base_url: str

    def path(self, purpose: LinkPurpose, subject_id: UUID, version: int = 1) -> str:
        """`version`: the facilitator's or lead's `link_version` (booking links are always version 1)."""
        prefix = {LinkPurpose.BOOKING: "book", LinkPurpose.FACILITATOR: "facilitator", LinkPurpose.LEAD: "lead"}
        signature = domain.link_signature(secret=self.secret, purpose=purpose, subject_id=subject_id, version=version)
        return f"/{prefix[purpose]}/{subject_id}/{signature}"

    def url(self, purpose: LinkPurpose, subject_id: UUID, version: int = 1) -> str:
        return self.base_url.rstrip("/") + self.path(purpose, subject_id, version)

    def facilitator(self, facilitator: Facilitator) -> str:
        return self.url(LinkPurpose.FACILITATOR, facilitator.id, facilitator.link_version)

    def lead(self, lead: RegionalLead) -> str:
        return self.url(LinkPurpose.LEAD, lead.id, lead.link_version)


async def renew_link(uow: UnitOfWork, subject: Facilitator | RegionalLead, *, settings: Settings) -> str:
    """Give a facilitator or regional lead a new personal link (e.g. the old one was forwarded or
    lost): their link version goes up, so every older link stops working, and the new link is
    emailed to them (never shown to whoever asked). Returns the new link."""
    table = type(subject)
    version = (await uow.session.execute(
        update(table).where(col(table.id) == subject.id)
        .values(link_version=col(table.link_version) + 1).returning(col(table.link_version))
    )).scalar_one()
    set_committed_value(subject, "link_version", version)
    if isinstance(subject, Facilitator):
        url, page, purpose = links(settings).facilitator(subject), "facilitator page", LinkPurpose.FACILITATOR
    else:
        url, page, purpose = links(settings).lead(subject), "regional lead page", LinkPurpose.LEAD
    queue_email(uow, kind="new_link", to=subject.email, cycle_id=None,
                context={"name": subject.name, "link": url, "page": page})
    log.info("personal link renewed", extra={"link_purpose": purpose.value, "subject_id": str(subject.id),
                                             "link_version": version})
    return url


def format_when(starts_at: datetime, ends_at: datetime, *, tz: ZoneInfo) -> str:
    """'Tuesday 14 January 2027, 10:00 to 12:00 (UK time)' in the service's time zone."""
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    zone = "UK time" if tz.key == "Europe/London" else tz.key
    return f"{start:%A} {start.day} {start:%B %Y}, {start:%H:%M} to {end:%H:%M} ({zone})"


# --- participants and booking requests -------------------------------------------------------------


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
_LINE_AS_OF = literal_column("greatest(participant.management_line_as_of, excluded.management_line_as_of)",
                             type_=DateTime(timezone=True))


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
    if request is not None and live is not None and await _booked_across_the_line(
        uow, request, live, settings=settings, now=now
    ):
        log.warning("booked facilitator is now in the participant's management line",
                    extra={"cycle_id": str(request.cycle_id), "session_id": str(live.id),
                           "facilitator_id": str(live.facilitator_id)})
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
        uow, kind="booking_offer", to=participant.email, cycle_id=request.cycle_id,
        context={"name": participant.name, "link": links(settings).url(LinkPurpose.BOOKING, request.cycle_id)},
    )
    request.offered_at = now
    uow.session.add(request)
    _mark_scheduled(uow, request)
    log.info("booking offered", extra={"cycle_id": str(request.cycle_id), "options": len(offer.options)})
    return Outcome.OFFERED


def _nothing_to_offer(offer: Offer, *, settings: Settings) -> str:
    """Why a cycle is on the attention list (shown to the regional lead, so it names the language)."""
    if offer.language:
        return (f"no facilitator who speaks {domain.language_name(offer.language)} has a free slot at least "
                f"{settings.min_notice_hours}h ahead and monthly capacity")
    return (f"no free slot at least {settings.min_notice_hours}h ahead with a matching facilitator "
            "who has monthly capacity")


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
    booked = domain.count_by_month(await _live_bookings(uow, facilitator_ids=ids, since=this_month), tz=tz)
    options = domain.booking_options(ranked=ranked, free_slots=free, booked=booked, not_before=not_before, tz=tz)
    offered = domain.offer(options, ranked=ranked, limit=settings.offer_limit)
    own_choice = chose and any(o.facilitator_id == request.chosen_facilitator_id for o in offered)
    return Offer(
        options=[
            Option(slot=o, facilitator_name=facilitators[o.facilitator_id].name,
                   languages=tuple(facilitators[o.facilitator_id].languages))
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
            await _lock_facilitator_month(uow, facilitator, starts_at=chosen.starts_at, tz=tz, excluding=None)
            await uow.session.execute(
                insert(FeedbackSession).values(
                    id=session_id, cycle_id=cycle_id, report_id=request.report_id,
                    facilitator_id=chosen.facilitator_id, slot_id=chosen.id,
                    starts_at=chosen.starts_at, ends_at=chosen.ends_at, mode=chosen.mode, location=chosen.location,
                    status=(SessionStatus.BOOKED if automatic else SessionStatus.REQUESTED).value,
                    ics_path=str(path), confirmed_at=now if automatic else None, created_at=now, updated_at=now,
                )
            )
    except IntegrityError as error:
        # The exclusion constraint or a unique index caught a concurrent booking of this time or cycle.
        if await live_session_of(uow, cycle_id=cycle_id) is not None:
            raise Rejected("Your feedback session is already booked") from error
        raise Rejected(SLOT_TAKEN) from error
    session = await uow.session.get(FeedbackSession, session_id)
    assert session is not None
    participant = await uow.session.get(Participant, cycle_id)
    if automatic:
        await _announce_booked(uow, session, request=request, settings=settings, now=now)
    else:
        when = format_when(session.starts_at, session.ends_at, tz=tz)
        confirm_by = min(now + timedelta(hours=settings.confirm_within_hours),
                         session.starts_at - timedelta(hours=settings.confirm_before_start_hours)).astimezone(tz)
        queue_email(uow, kind="booking_requested", to=facilitator.email, cycle_id=cycle_id, context={
            "facilitator": facilitator.name, "when": when, "mode": MODE_PHRASES[session.mode],
            "confirm_by": f"{confirm_by:%H:%M} on {confirm_by:%A} {confirm_by.day} {confirm_by:%B %Y}",
            "link": links(settings).facilitator(facilitator),
        })
        if participant is not None and participant.email:
            queue_email(uow, kind="booking_pending", to=participant.email, cycle_id=cycle_id, context={
                "name": participant.name, "when": when, "mode": MODE_PHRASES[session.mode],
                "facilitator": facilitator.name, "link": links(settings).url(LinkPurpose.BOOKING, cycle_id),
            })
    log.info("feedback session chosen", extra={"cycle_id": str(cycle_id), "session_id": str(session_id),
                                               "status": session.status})
    return session


async def _lock_facilitator_month(
    uow: UnitOfWork, facilitator: Facilitator, *, starts_at: datetime, tz: ZoneInfo, excluding: UUID | None
) -> None:
    """Serialise bookings per facilitator, then refuse if the slot's month is already full."""
    await uow.session.execute(
        select(col(Facilitator.id)).where(col(Facilitator.id) == facilitator.id).with_for_update()
    )
    month_start, month_end = domain.month_bounds(domain.month_key(starts_at, tz=tz), tz=tz)
    conditions = [
        col(FeedbackSession.facilitator_id) == facilitator.id,
        col(FeedbackSession.starts_at) >= month_start,
        col(FeedbackSession.starts_at) < month_end,
        LIVE,
    ]
    if excluding is not None:
        conditions.append(col(FeedbackSession.id) != excluding)
    used = (await uow.session.execute(select(func.count()).where(*conditions))).scalar_one()
    if not domain.has_capacity(booked_in_month=used, monthly_capacity=facilitator.monthly_capacity):
        raise Rejected("That facilitator has no more room that month. Choose another time")


async def _announce_booked(
    uow: UnitOfWork, session: FeedbackSession, *, request: BookingRequest, settings: Settings, now: datetime
) -> None:
    """A session is booked: calendar file, FeedbackSessionScheduled, invitations to both people."""
    await _write_calendar_file(session, settings=settings, now=now)
    uow.emit(
        FeedbackSessionScheduled(
            producer="scheduling", correlation_id=request.correlation_id, cycle_id=session.cycle_id,
            session_id=session.id, report_id=session.report_id, facilitator_id=session.facilitator_id,
            starts_at=session.starts_at, ends_at=session.ends_at, mode=SessionMode(session.mode),
        )
    )
    await _notify_both(uow, session, kind="session_booked", method=ics.REQUEST, settings=settings, now=now)
    log.info("feedback session booked", extra={"cycle_id": str(session.cycle_id), "session_id": str(session.id),
                                               "facilitator_id": str(session.facilitator_id)})


async def _write_calendar_file(session: FeedbackSession, *, settings: Settings, now: datetime,
                               method: str = ics.REQUEST) -> None:
    content = ics.session_ics(
        session_id=session.id, starts_at=session.starts_at, ends_at=session.ends_at,
        mode=SessionMode(session.mode), stamp=now, sequence=session.sequence, method=method,
        location=session.location, organizer=_address(settings.mail_from),
    )
    # Written before commit: if the commit fails, the retry writes it again.
    await asyncio.to_thread(ics.write_atomically, ics.ics_path(settings.output_dir, cycle_id=session.cycle_id),
                            content)


def _address(sender: str) -> str:
    return sender.rsplit("<", 1)[-1].rstrip(">").strip()


async def _notify_both(
    uow: UnitOfWork,
    session: FeedbackSession,
    *,
    kind: str,
    method: str | None,
    settings: Settings,
    now: datetime,
    extra: dict[str, object] | None = None,
    cancelled_by: str | None = None,
) -> None:
    """Queue one email each to the participant and the facilitator (with the calendar object, if any)."""
    tz = ZoneInfo(settings.timezone)
    facilitator = await uow.session.get(Facilitator, session.facilitator_id)
    participant = await uow.session.get(Participant, session.cycle_id)
    assert facilitator is not None
    participant_email = participant.email if participant is not None else None
    attendees = tuple(a for a in (participant_email, facilitator.email) if a)
    content = (
        ics.session_ics(
            session_id=session.id, starts_at=session.starts_at, ends_at=session.ends_at,
            mode=SessionMode(session.mode), stamp=now, sequence=session.sequence, method=method,
            location=session.location, organizer=_address(settings.mail_from), attendees=attendees,
        )
        if method
        else None
    )
    context: dict[str, object] = {
        "when": format_when(session.starts_at, session.ends_at, tz=tz),
        "mode": MODE_PHRASES[session.mode],
        "location": session.location or "",
        "facilitator": facilitator.name,
        "by": cancelled_by or "",
        **(extra or {}),
    }
    booking_link = links(settings).url(LinkPurpose.BOOKING, session.cycle_id)
    if participant is not None and participant_email:
        queue_email(uow, kind=kind, to=participant_email, cycle_id=session.cycle_id, ics_content=content,
                    ics_method=method, context={**context, "recipient": participant.name, "link": booking_link,
                                                "link_text": "Choose another time for your feedback session:"})
    queue_email(uow, kind=kind, to=facilitator.email, cycle_id=session.cycle_id, ics_content=content,
                ics_method=method, context={**context, "recipient": facilitator.name,
                                            "link": links(settings).facilitator(facilitator),
                                            "link_text": "Your facilitator page:"})


# --- changing a session ----------------------------------------------------------------------------


async def _session_for_update(uow: UnitOfWork, *, session_id: UUID, facilitator_id: UUID | None) -> FeedbackSession:
    result = await uow.session.execute(
        select(FeedbackSession).where(col(FeedbackSession.id) == session_id).with_for_update()
    )
    session: FeedbackSession | None = result.scalars().first()
    if session is None or (facilitator_id is not None and session.facilitator_id != facilitator_id):
        raise Rejected("There is no such session")
    return session


async def confirm_session(
    uow: UnitOfWork, *, facilitator_id: UUID, session_id: UUID, settings: Settings, now: datetime
) -> FeedbackSession:
    """The facilitator confirms a requested session: it is booked and both get the invitation."""
    session = await _session_for_update(uow, session_id=session_id, facilitator_id=facilitator_id)
    domain.check_can_confirm(SessionStatus(session.status))
    request = await uow.session.get(BookingRequest, session.cycle_id)
    assert request is not None
    session.status = SessionStatus.BOOKED.value
    session.confirmed_at = now
    session.updated_at = now
    uow.session.add(session)
    await uow.session.flush()
    await _announce_booked(uow, session, request=request, settings=settings, now=now)
    return session


def _mark_cancelled(uow: UnitOfWork, session: FeedbackSession, *, by: str, now: datetime) -> None:
    """Cancelled (by whom), and a new SEQUENCE for the calendar event."""
    session.status = SessionStatus.CANCELLED.value
    session.cancelled_by = by
    session.sequence += 1
    session.updated_at = now
    uow.session.add(session)


async def cancel_session(
    uow: UnitOfWork, *, session_id: UUID, by: Actor, settings: Settings, now: datetime,
    facilitator_id: UUID | None = None, cycle_id: UUID | None = None,
) -> FeedbackSession:
    """Cancel (or, for a request, decline) a session that is still to come; the participant may choose again."""
    session = await _session_for_update(uow, session_id=session_id, facilitator_id=facilitator_id)
    if cycle_id is not None and session.cycle_id != cycle_id:
        raise Rejected("There is no such session")
    status = SessionStatus(session.status)
    domain.check_can_change(status, starts_at=session.starts_at, now=now)
    _mark_cancelled(uow, session, by=by, now=now)
    await uow.session.flush()
    if status is SessionStatus.REQUESTED:
        participant = await uow.session.get(Participant, session.cycle_id)
        if by != "participant" and participant is not None and participant.email:
            queue_email(uow, kind="booking_declined", to=participant.email, cycle_id=session.cycle_id, context={
                "name": participant.name,
                "when": format_when(session.starts_at, session.ends_at, tz=ZoneInfo(settings.timezone)),
                "link": links(settings).url(LinkPurpose.BOOKING, session.cycle_id),
            })
        return session
    await _write_calendar_file(session, settings=settings, now=now, method=ics.CANCEL)
    uow.emit(FeedbackSessionCancelled(producer="scheduling", correlation_id=await _correlation(uow, session),
                                      cycle_id=session.cycle_id, session_id=session.id, reason=by))
    await _notify_both(uow, session, kind="session_cancelled", method=ics.CANCEL, settings=settings, now=now,
                       cancelled_by=by)
    log.info("feedback session cancelled", extra={"cycle_id": str(session.cycle_id), "session_id": str(session.id)})
    return session


async def reschedule_session(
    uow: UnitOfWork, *, session_id: UUID, slot_id: UUID, by: Actor, settings: Settings, now: datetime,
    facilitator_id: UUID | None = None, cycle_id: UUID | None = None,
) -> FeedbackSession:
    """Move a booked session to another free slot of the same facilitator (same calendar event, SEQUENCE+1)."""
    session = await _session_for_update(uow, session_id=session_id, facilitator_id=facilitator_id)
    if cycle_id is not None and session.cycle_id != cycle_id:
        raise Rejected("There is no such session")
    status = SessionStatus(session.status)
    domain.check_can_change(status, starts_at=session.starts_at, now=now)
    if status is not SessionStatus.BOOKED:
        raise Rejected("Confirm or decline the request before moving it")
    candidates = await free_slots(
        uow, facilitator_ids=[session.facilitator_id], not_before=now + timedelta(hours=settings.min_notice_hours),
        per_facilitator=settings.slot_search_limit,
    )
    target = next((s for s in candidates if s.id == slot_id), None)
    if target is None:
        raise Rejected(SLOT_TAKEN)
    facilitator = await uow.session.get(Facilitator, session.facilitator_id)
    assert facilitator is not None
    previous = format_when(session.starts_at, session.ends_at, tz=ZoneInfo(settings.timezone))
    try:
        async with uow.session.begin_nested():
            await _lock_facilitator_month(uow, facilitator, starts_at=target.starts_at,
                                          tz=ZoneInfo(settings.timezone), excluding=session.id)
            session.slot_id = target.id
            session.starts_at = target.starts_at
            session.ends_at = target.ends_at
            session.mode = target.mode
            session.location = target.location
            session.sequence += 1
            session.reminder_sent_at = None
            session.updated_at = now
            uow.session.add(session)
            await uow.session.flush()
    except IntegrityError as error:
        await uow.session.refresh(session)
        raise Rejected(SLOT_TAKEN) from error
    await _write_calendar_file(session, settings=settings, now=now)
    uow.emit(FeedbackSessionRescheduled(
        producer="scheduling", correlation_id=await _correlation(uow, session), cycle_id=session.cycle_id,
        session_id=session.id, facilitator_id=session.facilitator_id, starts_at=session.starts_at,
        ends_at=session.ends_at, mode=SessionMode(session.mode),
    ))
    await _notify_both(uow, session, kind="session_rescheduled", method=ics.REQUEST, settings=settings, now=now,
                       extra={"previous_when": previous})
    log.info("feedback session rescheduled", extra={"cycle_id": str(session.cycle_id),
                                                    "session_id": str(session.id), "sequence": session.sequence})
    return session


async def record_outcome(
    uow: UnitOfWork, *, facilitator_id: UUID, session_id: UUID, outcome: Literal["completed", "no_show"],
    now: datetime,
) -> FeedbackSession:
    """The facilitator records that the session took place (releases the report) or that nobody came."""
    session = await _session_for_update(uow, session_id=session_id, facilitator_id=facilitator_id)
    domain.check_can_record_outcome(SessionStatus(session.status), starts_at=session.starts_at, now=now)
    session.status = SessionStatus(outcome).value
    session.outcome_at = now
    session.updated_at = now
    uow.session.add(session)
    uow.emit(FeedbackSessionCompleted(
        producer="scheduling", correlation_id=await _correlation(uow, session), cycle_id=session.cycle_id,
        session_id=session.id, report_id=session.report_id, facilitator_id=session.facilitator_id, outcome=outcome,
    ))
    log.info("feedback session outcome recorded", extra={"cycle_id": str(session.cycle_id),
                                                         "session_id": str(session.id), "outcome": outcome})
    return session


async def _correlation(uow: UnitOfWork, session: FeedbackSession) -> UUID | None:
    request = await uow.session.get(BookingRequest, session.cycle_id)
    return request.correlation_id if request is not None else None


async def cancel_future_sessions(
    uow: UnitOfWork, *, facilitator_id: UUID, settings: Settings, now: datetime
) -> int:
    """A facilitator can no longer take their sessions: cancel those still to come (participants choose again)."""
    rows = await uow.session.execute(
        select(col(FeedbackSession.id)).where(
            col(FeedbackSession.facilitator_id) == facilitator_id,
            col(FeedbackSession.starts_at) > now,
            col(FeedbackSession.status).in_([s.value for s in domain.CHANGEABLE_STATUSES]),
        )
    )
    ids = list(rows.scalars())
    for session_id in ids:
        await cancel_session(uow, session_id=session_id, by="admin", settings=settings, now=now)
    return len(ids)


# --- queries ---------------------------------------------------------------------------------------


async def live_session_of(uow: UnitOfWork, *, cycle_id: UUID) -> FeedbackSession | None:
    result = await uow.session.execute(
        select(FeedbackSession).where(col(FeedbackSession.cycle_id) == cycle_id, LIVE)
    )
    return result.scalars().first()


async def current_session_of(uow: UnitOfWork, *, cycle_id: UUID) -> FeedbackSession | None:
    """The live session of a cycle, else the most recently changed cancelled one."""
    result = await uow.session.execute(
        select(FeedbackSession)
        .where(col(FeedbackSession.cycle_id) == cycle_id)
        .order_by(LIVE.desc(), col(FeedbackSession.updated_at).desc())
        .limit(1)
    )
    return result.scalars().first()


async def free_slots(
    uow: UnitOfWork, *, facilitator_ids: list[UUID], not_before: datetime, per_facilitator: int
) -> list[domain.FreeSlot]:
    """The earliest slots of each facilitator that no live session overlaps."""
    booked = aliased(FeedbackSession)
    overlapping = exists().where(
        col(booked.facilitator_id) == col(Slot.facilitator_id),
        col(booked.status) != SessionStatus.CANCELLED.value,
        and_(col(booked.starts_at) < Slot.ends_at, col(booked.ends_at) > Slot.starts_at),
    )
    numbered = (
        select(
            col(Slot.id), col(Slot.facilitator_id), col(Slot.starts_at), col(Slot.ends_at), col(Slot.mode),
            col(Slot.location),
            func.row_number().over(partition_by=col(Slot.facilitator_id), order_by=col(Slot.starts_at)).label("n"),
        )
        .where(col(Slot.facilitator_id).in_(facilitator_ids), col(Slot.starts_at) >= not_before, ~overlapping)
        .subquery()
    )
    rows = await uow.session.execute(
        select(numbered.c.id, numbered.c.facilitator_id, numbered.c.starts_at, numbered.c.ends_at, numbered.c.mode,
               numbered.c.location)
        .where(numbered.c.n <= per_facilitator)
        .order_by(numbered.c.starts_at)
    )
    return [
        domain.FreeSlot(id=row.id, facilitator_id=row.facilitator_id, starts_at=row.starts_at,
                        ends_at=row.ends_at, mode=row.mode, location=row.location)
        for row in rows
    ]


async def _live_bookings(
    uow: UnitOfWork, *, facilitator_ids: list[UUID], since: datetime
) -> list[tuple[UUID, datetime]]:
    rows = await uow.session.execute(
        select(col(FeedbackSession.facilitator_id), col(FeedbackSession.starts_at)).where(
            col(FeedbackSession.facilitator_id).in_(facilitator_ids), col(FeedbackSession.starts_at) >= since, LIVE,
        )
    )
    return [(row[0], row[1]) for row in rows]


# --- attention list, escalation, reminders ---------------------------------------------------------


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
    attempts = (await uow.session.execute(
        update(BookingRequest)
        .where(col(BookingRequest.cycle_id) == request.cycle_id)
        .values(unscheduled_reason=reason, offer_attempts=col(BookingRequest.offer_attempts) + 1,
                last_offer_attempt_at=now)
        .returning(col(BookingRequest.offer_attempts))
    )).scalar_one()
    # Warn once per cycle; the retry job tries again every minute and the list is at /api/unscheduled.
    (log.warning if attempts == 1 else log.debug)(
        "feedback session could not be offered", extra={"cycle_id": str(request.cycle_id), "attempts": attempts}
    )


async def claim_unscheduled(uow: UnitOfWork, *, attempted_before: datetime) -> BookingRequest | None:
    """Lock the longest-waiting unscheduled cycle not yet retried in this round (other instances skip it)."""
    result = await uow.session.execute(
        select(BookingRequest)
        .where(col(BookingRequest.unscheduled_reason).is_not(None),
               col(BookingRequest.last_offer_attempt_at) < attempted_before)
        .order_by(col(BookingRequest.last_offer_attempt_at))
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    return result.scalars().first()


async def _lead_of_region(uow: UnitOfWork) -> Callable[[str], RegionalLead | None]:
    """The regional lead of a region (names matched as domain.lead_for_region does), from one read."""
    leads = {lead.id: lead for lead in (await uow.session.execute(select(RegionalLead))).scalars()}
    by_region = {lead.region: lead.id for lead in leads.values()}

    def lead_of(region: str) -> RegionalLead | None:
        lead_id = domain.lead_for_region(region, by_region)
        return leads[lead_id] if lead_id is not None else None

    return lead_of


async def remind_unbooked(uow: UnitOfWork, *, settings: Settings, now: datetime, limit: int = 50) -> int:
    """Remind participants who were offered times `booking_reminder_days` ago and have not chosen
    (no session requested or booked): once each. Returns how many were reminded."""
    has_live = exists().where(col(FeedbackSession.cycle_id) == col(BookingRequest.cycle_id), LIVE)
    rows = await uow.session.execute(
        select(BookingRequest, Participant)
        .join(Participant, col(Participant.cycle_id) == col(BookingRequest.cycle_id))
        .where(col(BookingRequest.booking_reminder_sent_at).is_(None),
               col(BookingRequest.offered_at) <= now - timedelta(days=settings.booking_reminder_days),
               col(Participant.email).is_not(None), ~has_live)
        .order_by(col(BookingRequest.offered_at))
        .limit(limit)
        .with_for_update(of=BookingRequest, skip_locked=True)
    )
    waiting = list(rows.all())
    for request, participant in waiting:
        assert participant.email is not None
        queue_email(uow, kind="booking_reminder", to=participant.email, cycle_id=request.cycle_id, context={
            "name": participant.name, "link": links(settings).url(LinkPurpose.BOOKING, request.cycle_id),
        })
        request.booking_reminder_sent_at = now
        uow.session.add(request)
    if waiting:
        log.info("participants reminded to book", extra={"count": len(waiting)})
    return len(waiting)


async def escalate_unbooked(uow: UnitOfWork, *, settings: Settings, now: datetime, limit: int = 50) -> int:
    """Tell the regional lead about participants with no session `escalate_after_days` after their report."""
    cutoff = now - timedelta(days=settings.escalate_after_days)
    has_live = exists().where(col(FeedbackSession.cycle_id) == col(BookingRequest.cycle_id), LIVE)
    rows = await uow.session.execute(
        select(BookingRequest)
        .where(col(BookingRequest.escalated_at).is_(None), col(BookingRequest.created_at) <= cutoff, ~has_live)
        .order_by(col(BookingRequest.created_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    waiting = list(rows.scalars())
    if not waiting:
        return 0
    lead_of = await _lead_of_region(uow)
    tz = ZoneInfo(settings.timezone)
    for request in waiting:
        if not domain.escalation_due(requested_at=request.created_at, now=now, after_days=settings.escalate_after_days):
            continue
        lead = lead_of(request.region)
        if lead is None:
            log.warning("no regional lead for the region; escalation not sent",
                        extra={"cycle_id": str(request.cycle_id)})
        else:
            queue_email(uow, kind="escalation", to=lead.email, cycle_id=request.cycle_id, context={
                "lead": lead.name, "region": lead.region, "days": (now - request.created_at).days,
                "participant_id": request.participant_id, "organisation": request.organisation,
                "cycle_id": str(request.cycle_id), "since": f"{request.created_at.astimezone(tz):%-d %B %Y}",
                "reason": request.unscheduled_reason or "",
                "link": links(settings).lead(lead),
            })
        request.escalated_at = now
        uow.session.add(request)
    log.info("unbooked sessions escalated", extra={"count": len(waiting)})
    return len(waiting)


async def chase_outcomes(uow: UnitOfWork, *, settings: Settings, now: datetime, limit: int = 50) -> tuple[int, int]:
    """Booked sessions that ended without an outcome (the participant's report stays held until one is
    recorded): remind the facilitator `outcome_reminder_hours` after the end, once; tell the region's
    lead `outcome_escalate_days` after, once. Returns (reminded, escalated)."""
    booked = col(FeedbackSession.status) == SessionStatus.BOOKED.value
    tz = ZoneInfo(settings.timezone)
    to_remind = list((await uow.session.execute(
        select(FeedbackSession)
        .where(booked, col(FeedbackSession.outcome_reminder_sent_at).is_(None),
               col(FeedbackSession.ends_at) <= now - timedelta(hours=settings.outcome_reminder_hours))
        .order_by(col(FeedbackSession.ends_at)).limit(limit).with_for_update(skip_locked=True)
    )).scalars())
    for session in to_remind:
        facilitator = await uow.session.get(Facilitator, session.facilitator_id)
        if facilitator is not None:
            queue_email(uow, kind="outcome_reminder", to=facilitator.email, cycle_id=session.cycle_id, context={
                "facilitator": facilitator.name, "when": format_when(session.starts_at, session.ends_at, tz=tz),
                "link": links(settings).facilitator(facilitator),
            })
        session.outcome_reminder_sent_at = now
        uow.session.add(session)

    to_escalate = list((await uow.session.execute(
        select(FeedbackSession, BookingRequest)
        .join(BookingRequest, col(BookingRequest.cycle_id) == col(FeedbackSession.cycle_id))
        .where(booked, col(FeedbackSession.outcome_escalated_at).is_(None),
               col(FeedbackSession.ends_at) <= now - timedelta(days=settings.outcome_escalate_days))
        .order_by(col(FeedbackSession.ends_at)).limit(limit).with_for_update(of=FeedbackSession, skip_locked=True)
    )).all())
    lead_of = await _lead_of_region(uow) if to_escalate else (lambda region: None)
    for session, request in to_escalate:
        lead = lead_of(request.region)
        facilitator = await uow.session.get(Facilitator, session.facilitator_id)
        if lead is None:
            log.warning("no regional lead for the region; missing outcome not escalated",
                        extra={"cycle_id": str(session.cycle_id), "session_id": str(session.id)})
        else:
            queue_email(uow, kind="outcome_escalation", to=lead.email, cycle_id=session.cycle_id, context={
                "lead": lead.name, "region": lead.region, "days": (now - session.ends_at).days,
                "participant_id": request.participant_id, "cycle_id": str(session.cycle_id),
                "when": format_when(session.starts_at, session.ends_at, tz=tz),
                "facilitator": facilitator.name if facilitator else "unknown", "link": links(settings).lead(lead),
            })
        session.outcome_escalated_at = now
        uow.session.add(session)
    if to_remind or to_escalate:
        log.info("missing session outcomes chased", extra={"reminded": len(to_remind), "escalated": len(to_escalate)})
    return len(to_remind), len(to_escalate)


async def lapse_unconfirmed_requests(uow: UnitOfWork, *, settings: Settings, now: datetime, limit: int = 50) -> int:
    """Withdraw requests the facilitator has not confirmed in time (facilitator confirmation mode): within
    `confirm_within_hours` of the request, or by `confirm_before_start_hours` before the start. The time
    is freed, the participant asked to choose again and the facilitator told. Returns how many lapsed."""
    rows = await uow.session.execute(
        select(FeedbackSession)
        .where(
            col(FeedbackSession.status) == SessionStatus.REQUESTED.value,
            or_(col(FeedbackSession.created_at) <= now - timedelta(hours=settings.confirm_within_hours),
                col(FeedbackSession.starts_at) <= now + timedelta(hours=settings.confirm_before_start_hours)),
        )
        .order_by(col(FeedbackSession.created_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    sessions = list(rows.scalars())
    tz = ZoneInfo(settings.timezone)
    for session in sessions:
        _mark_cancelled(uow, session, by="not_confirmed", now=now)
        when = format_when(session.starts_at, session.ends_at, tz=tz)
        participant = await uow.session.get(Participant, session.cycle_id)
        if participant is not None and participant.email:
            queue_email(uow, kind="booking_lapsed", to=participant.email, cycle_id=session.cycle_id, context={
                "name": participant.name, "when": when,
                "link": links(settings).url(LinkPurpose.BOOKING, session.cycle_id),
            })
        facilitator = await uow.session.get(Facilitator, session.facilitator_id)
        if facilitator is not None:
            queue_email(uow, kind="request_lapsed", to=facilitator.email, cycle_id=session.cycle_id, context={
                "facilitator": facilitator.name, "when": when, "link": links(settings).facilitator(facilitator),
            })
        log.info("unconfirmed session request lapsed", extra={"cycle_id": str(session.cycle_id),
                                                               "session_id": str(session.id)})
    await uow.session.flush()
    return len(sessions)


async def send_reminders(uow: UnitOfWork, *, settings: Settings, now: datetime, limit: int = 50) -> int:
    """Remind both people of booked sessions starting within `reminder_hours_before` hours (once each)."""
    rows = await uow.session.execute(
        select(FeedbackSession)
        .where(
            col(FeedbackSession.status) == SessionStatus.BOOKED.value,
            col(FeedbackSession.reminder_sent_at).is_(None),
            col(FeedbackSession.starts_at) > now,
            col(FeedbackSession.starts_at) <= now + timedelta(hours=settings.reminder_hours_before),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    sessions = list(rows.scalars())
    for session in sessions:
        await _notify_both(uow, session, kind="session_reminder", method=None, settings=settings, now=now)
        session.reminder_sent_at = now
        uow.session.add(session)
    if sessions:
        log.info("session reminders queued", extra={"sessions": len(sessions)})
    return len(sessions)


# --- mail outbox (shared.mail_outbox sends what is queued here) ------------------------------------


def queue_email(
    uow: UnitOfWork, *, kind: str, to: str, cycle_id: UUID | None, context: dict[str, object],
    ics_content: bytes | None = None, ics_method: str | None = None,
) -> OutgoingEmail:
    """Render an email into the mail outbox, in the caller's transaction."""
    subject, body = mail.render(kind, context)
    return mail_outbox.queue_email(uow, OutgoingEmail(
        id=uuid4(), kind=kind, cycle_id=cycle_id, to_address=to, subject=subject, body=body,
        ics=ics_content, ics_method=ics_method,
    ))


# --- availability and the facilitator directory on Kafka -------------------------------------------


async def ensure_availability(uow: UnitOfWork, *, settings: Settings, today: date) -> int:
    """Give each active accredited seeded facilitator weekday slots for the coming weeks; returns slots added."""
    tz = ZoneInfo(settings.timezone)
    rows = await uow.session.execute(select(Facilitator).where(col(Facilitator.id).in_(domain.SEEDED_FACILITATOR_IDS)))
    facilitators = [f for f in rows.scalars() if domain.can_facilitate(f.rules_view())]
    times = domain.weekday_slots(
        first_day=today, days=settings.availability_days_ahead, local_times=settings.availability_local_times,
        duration=timedelta(minutes=settings.availability_slot_minutes), tz=tz,
    )
    if not facilitators or not times:
        return 0
    values = [
        {"id": uuid4(), "facilitator_id": f.id, "starts_at": start, "ends_at": end, "mode": SessionMode.VIRTUAL.value}
        for f in facilitators
        for start, end in times
    ]
    # No conflict target: skips both a repeated start and an overlap with a slot the facilitator added.
    result = await uow.session.execute(
        insert(Slot).values(values).on_conflict_do_nothing().returning(col(Slot.facilitator_id))
    )
    added = [row[0] for row in result.all()]
    for facilitator_id in sorted(set(added), key=str):
        await publish_availability_summary(uow, facilitator_id=facilitator_id,
                                           now=datetime.combine(today, datetime.min.time(), tzinfo=tz))
    if added:
        log.info("availability added", extra={"slots": len(added), "facilitators": len(set(added))})
    return len(added)


async def publish_availability_summary(uow: UnitOfWork, *, facilitator_id: UUID, now: datetime) -> None:
    """AvailabilityPublished: how many free future slots a facilitator has, and the next one."""
    free = await free_slots(uow, facilitator_ids=[facilitator_id], not_before=now, per_facilitator=10_000)
    uow.emit(AvailabilityPublished(
        producer="scheduling", facilitator_id=facilitator_id, free_slots=len(free),
        next_free_slot_at=free[0].starts_at if free else None,
        modes=sorted({SessionMode(s.mode) for s in free}),
    ))


def directory_events(facilitator: Facilitator) -> list[FacilitatorRegistered | FacilitatorAccredited
                                                         | FacilitatorStatusChanged]:
    """The events that describe a facilitator to other services (registration, accreditation, status)."""
    events: list[FacilitatorRegistered | FacilitatorAccredited | FacilitatorStatusChanged] = [
        FacilitatorRegistered(
            producer="scheduling", facilitator_id=facilitator.id, name=facilitator.name, email=facilitator.email,
            region=facilitator.region, organisation=facilitator.organisation,
            languages=[domain.language_name(code) for code in facilitator.languages] or ["English"],
            monthly_capacity=facilitator.monthly_capacity,
        )
    ]
    view = facilitator.rules_view()
    if domain.is_accredited(view):
        assert facilitator.elearning_score is not None and facilitator.course_completed_on is not None
        events.append(FacilitatorAccredited(
            producer="scheduling", facilitator_id=facilitator.id, elearning_score=facilitator.elearning_score,
            elearning_passed_on=facilitator.elearning_passed_on or facilitator.course_completed_on,
            course_completed_on=facilitator.course_completed_on,
        ))
    events.append(FacilitatorStatusChanged(producer="scheduling", facilitator_id=facilitator.id,
                                           status=view.status.value))  # type: ignore[arg-type]
    return events


async def announce_facilitators(uow: UnitOfWork, *, now: datetime) -> int:
    """Publish the directory events of facilitators not yet announced (the seeded ones, once)."""
    rows = await uow.session.execute(
        select(Facilitator).where(col(Facilitator.announced_at).is_(None)).with_for_update(skip_locked=True)
    )
    facilitators = list(rows.scalars())
    for facilitator in facilitators:
        for event in directory_events(facilitator):
            uow.emit(event)
        await publish_availability_summary(uow, facilitator_id=facilitator.id, now=now)
        facilitator.announced_at = now
        uow.session.add(facilitator)
    if facilitators:
        log.info("facilitators announced", extra={"facilitators": len(facilitators)})
    return len(facilitators)

