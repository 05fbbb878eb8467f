"""What several features share: the live-session and free-slot queries, the mail outbox, the
calendar file and the emails to both people of a session, the monthly-capacity lock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased
from sqlmodel import col

from scheduling import domain, ics
from scheduling.config import Settings
from scheduling.domain import SessionStatus
from scheduling.emails import render as render_email
from scheduling.links import Links
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
    FeedbackSessionScheduled,
)
from shared.contracts.vocabulary import SessionMode
from shared.db import UnitOfWork
from shared.errors import Rejected

log = logging.getLogger(__name__)


LIVE = col(FeedbackSession.status) != SessionStatus.CANCELLED.value


MODE_PHRASES = {SessionMode.VIRTUAL.value: "online (video call)", SessionMode.IN_PERSON.value: "in person"}


SLOT_TAKEN = "That time has just been taken by someone else. Choose another time"


Actor = Literal["participant", "facilitator", "admin"]


def queue_email(
    uow: UnitOfWork,
    *,
    kind: str,
    to: str,
    cycle_id: UUID | None,
    context: dict[str, object],
    ics_content: bytes | None = None,
    ics_method: str | None = None,
) -> OutgoingEmail:
    """Render an email into the mail outbox, in the caller's transaction."""
    subject, body = render_email(kind, context)
    return mail_outbox.queue_email(
        uow,
        OutgoingEmail(
            id=uuid4(),
            kind=kind,
            cycle_id=cycle_id,
            to_address=to,
            subject=subject,
            body=body,
            ics=ics_content,
            ics_method=ics_method,
        ),
    )


async def live_session_of(uow: UnitOfWork, *, cycle_id: UUID) -> FeedbackSession | None:
    result = await uow.session.execute(select(FeedbackSession).where(col(FeedbackSession.cycle_id) == cycle_id, LIVE))
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
            col(Slot.id),
            col(Slot.facilitator_id),
            col(Slot.starts_at),
            col(Slot.ends_at),
            col(Slot.mode),
            col(Slot.location),
            func.row_number().over(partition_by=col(Slot.facilitator_id), order_by=col(Slot.starts_at)).label("n"),
        )
        .where(col(Slot.facilitator_id).in_(facilitator_ids), col(Slot.starts_at) >= not_before, ~overlapping)
        .subquery()
    )
    rows = await uow.session.execute(
        select(
            numbered.c.id,
            numbered.c.facilitator_id,
            numbered.c.starts_at,
            numbered.c.ends_at,
            numbered.c.mode,
            numbered.c.location,
        )
        .where(numbered.c.n <= per_facilitator)
        .order_by(numbered.c.starts_at)
    )
    return [
        domain.FreeSlot(
            id=row.id,
            facilitator_id=row.facilitator_id,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            mode=row.mode,
            location=row.location,
        )
        for row in rows
    ]


async def live_bookings(
    uow: UnitOfWork, *, facilitator_ids: list[UUID], since: datetime
) -> list[tuple[UUID, datetime]]:
    rows = await uow.session.execute(
        select(col(FeedbackSession.facilitator_id), col(FeedbackSession.starts_at)).where(
            col(FeedbackSession.facilitator_id).in_(facilitator_ids),
            col(FeedbackSession.starts_at) >= since,
            LIVE,
        )
    )
    return [(row[0], row[1]) for row in rows]


async def lead_of_region(uow: UnitOfWork) -> Callable[[str], RegionalLead | None]:
    """The regional lead of a region (names matched as domain.lead_for_region does), from one read."""
    leads = {lead.id: lead for lead in (await uow.session.execute(select(RegionalLead))).scalars()}
    by_region = {lead.region: lead.id for lead in leads.values()}

    def lead_of(region: str) -> RegionalLead | None:
        lead_id = domain.lead_for_region(region, by_region)
        return leads[lead_id] if lead_id is not None else None

    return lead_of


async def correlation_of(uow: UnitOfWork, session: FeedbackSession) -> UUID | None:
    request = await uow.session.get(BookingRequest, session.cycle_id)
    return request.correlation_id if request is not None else None


def organiser_address(sender: str) -> str:
    return sender.rsplit("<", 1)[-1].rstrip(">").strip()


async def session_calendar(
    uow: UnitOfWork, session: FeedbackSession, *, method: str, settings: Settings, now: datetime
) -> bytes:
    """The session's iTIP message: organised by the facilitator (sent by the service), both people invited."""
    facilitator = await uow.session.get(Facilitator, session.facilitator_id)
    participant = await uow.session.get(Participant, session.cycle_id)
    assert facilitator is not None
    host = ics.CalendarUser(email=facilitator.email, name=facilitator.name)
    guest = (
        ics.CalendarUser(email=participant.email, name=participant.name or None)
        if participant is not None and participant.email
        else None
    )
    return ics.session_ics(
        session_id=session.id,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        mode=SessionMode(session.mode),
        stamp=now,
        sequence=session.sequence,
        method=method,
        location=session.location,
        organizer=host,
        sent_by=organiser_address(settings.mail_from),
        attendees=(guest, host) if guest is not None else (host,),
    )


async def write_calendar_file(
    uow: UnitOfWork, session: FeedbackSession, *, settings: Settings, now: datetime, method: str = ics.REQUEST
) -> None:
    content = await session_calendar(uow, session, method=method, settings=settings, now=now)
    # Written before commit: if the commit fails, the retry writes it again.
    await asyncio.to_thread(ics.write_atomically, ics.ics_path(settings.output_dir, cycle_id=session.cycle_id), content)


async def notify_both(
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
    content = await session_calendar(uow, session, method=method, settings=settings, now=now) if method else None
    context: dict[str, object] = {
        "when": domain.format_when(session.starts_at, session.ends_at, tz=tz),
        "mode": MODE_PHRASES[session.mode],
        "location": session.location or "",
        "facilitator": facilitator.name,
        "by": cancelled_by or "",
        **(extra or {}),
    }
    booking_link = links(settings).booking_url(session.cycle_id, now=now)
    if participant is not None and participant_email:
        queue_email(
            uow,
            kind=kind,
            to=participant_email,
            cycle_id=session.cycle_id,
            ics_content=content,
            ics_method=method,
            context={
                **context,
                "recipient": participant.name,
                "link": booking_link,
                "link_text": "Choose another time for your feedback session:",
            },
        )
    queue_email(
        uow,
        kind=kind,
        to=facilitator.email,
        cycle_id=session.cycle_id,
        ics_content=content,
        ics_method=method,
        context={
            **context,
            "recipient": facilitator.name,
            "link": links(settings).facilitator(facilitator),
            "link_text": "Your facilitator page:",
        },
    )


def mark_cancelled(uow: UnitOfWork, session: FeedbackSession, *, by: str, now: datetime) -> None:
    """Cancelled (by whom), and a new SEQUENCE for the calendar event."""
    session.status = SessionStatus.CANCELLED.value
    session.cancelled_by = by
    session.sequence += 1
    session.updated_at = now
    uow.session.add(session)


async def lock_facilitator_month(
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


async def announce_booked(
    uow: UnitOfWork, session: FeedbackSession, *, request: BookingRequest, settings: Settings, now: datetime
) -> None:
    """A session is booked: calendar file, FeedbackSessionScheduled, invitations to both people."""
    await write_calendar_file(uow, session, settings=settings, now=now)
    uow.emit(
        FeedbackSessionScheduled(
            producer="scheduling",
            correlation_id=request.correlation_id,
            cycle_id=session.cycle_id,
            session_id=session.id,
            report_id=session.report_id,
            facilitator_id=session.facilitator_id,
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            mode=SessionMode(session.mode),
        )
    )
    await notify_both(uow, session, kind="session_booked", method=ics.REQUEST, settings=settings, now=now)
    log.info(
        "feedback session booked",
        extra={
            "cycle_id": str(session.cycle_id),
            "session_id": str(session.id),
            "facilitator_id": str(session.facilitator_id),
        },
    )


def links(settings: Settings) -> Links:
    return Links(
        keys=settings.signing_keys(),
        base_url=settings.base_url,
        booking_lifetime=timedelta(days=settings.booking_link_days),
    )


def in_region(column: Any, region: str) -> Any:
    """Region names compared as the domain does: ignoring case and repeated spaces."""
    return func.lower(func.trim(func.regexp_replace(column, r"\s+", " ", "g"))) == " ".join(region.split()).lower()
