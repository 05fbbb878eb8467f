"""Use cases of the facilitator registry and its community: registration, accreditation and status
(announced on Kafka for the invitations service's directory), availability slots, call-outs for
volunteers, CPD events and expressions of interest. One use case = one transaction (caller commits)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from scheduling import domain, forms, usecases
from scheduling.config import Settings
from scheduling.tables import (
    Callout,
    CalloutVolunteer,
    CpdEvent,
    CpdInterest,
    CpdRegistration,
    Facilitator,
    FeedbackSession,
    RegionalLead,
    Slot,
)
from shared.contracts.events import FacilitatorAccredited, FacilitatorStatusChanged
from shared.db import UnitOfWork
from shared.errors import Rejected

log = logging.getLogger(__name__)


# --- facilitators ----------------------------------------------------------------------------------


async def register_facilitator(
    uow: UnitOfWork, *, lead: RegionalLead, details: forms.FacilitatorInput, now: datetime
) -> Facilitator:
    """A regional lead adds a facilitator to the region's register (announced on Kafka at once)."""
    taken = await uow.session.execute(select(col(Facilitator.id)).where(func.lower(Facilitator.email) == details.email))
    if taken.first() is not None:
        raise Rejected("A facilitator with this email address is already registered")
    accreditation = details.accreditation
    facilitator = Facilitator(
        id=uuid4(), name=details.name, email=details.email, phone=details.phone, region=lead.region,
        organisation=details.organisation, status=domain.FacilitatorStatus.ACTIVE.value,
        elearning_score=accreditation.score if accreditation else None,
        elearning_passed_on=accreditation.passed_on if accreditation else None,
        course_completed_on=accreditation.course_on if accreditation else None,
        monthly_capacity=details.monthly_capacity, languages=details.languages, registered_at=now, announced_at=now,
        line_manager_email=details.line_manager_email,
    )
    uow.session.add(facilitator)
    await uow.session.flush()
    for event in usecases.directory_events(facilitator):
        uow.emit(event)
    log.info("facilitator registered", extra={"facilitator_id": str(facilitator.id)})
    return facilitator


async def facilitator_in_region(uow: UnitOfWork, *, lead: RegionalLead, facilitator_id: UUID) -> Facilitator:
    facilitator = await uow.session.get(Facilitator, facilitator_id, with_for_update=True)
    if facilitator is None or domain.lead_for_region(facilitator.region, {lead.region: lead.id}) != lead.id:
        raise Rejected("There is no such facilitator in your region")
    return facilitator


async def record_accreditation(
    uow: UnitOfWork, *, lead: RegionalLead, facilitator_id: UUID, accreditation: forms.AccreditationInput
) -> Facilitator:
    """E-learning passed (>= 80%) and the one-day course done: the facilitator is accredited."""
    facilitator = await facilitator_in_region(uow, lead=lead, facilitator_id=facilitator_id)
    facilitator.elearning_score = accreditation.score
    facilitator.elearning_passed_on = accreditation.passed_on
    facilitator.course_completed_on = accreditation.course_on
    if not domain.is_accredited(facilitator.rules_view()):
        raise Rejected("These results do not meet the accreditation rules")
    uow.session.add(facilitator)
    uow.emit(FacilitatorAccredited(
        producer="scheduling", facilitator_id=facilitator.id, elearning_score=accreditation.score,
        elearning_passed_on=accreditation.passed_on, course_completed_on=accreditation.course_on,
    ))
    return facilitator


async def change_status(
    uow: UnitOfWork, *, lead: RegionalLead, facilitator_id: UUID, status: domain.FacilitatorStatus,
    settings: Settings, now: datetime,
) -> int:
    """Active, lapsed or suspended. Returns how many future sessions were cancelled (per configuration)."""
    facilitator = await facilitator_in_region(uow, lead=lead, facilitator_id=facilitator_id)
    if facilitator.status == status.value:
        return 0
    facilitator.status = status.value
    uow.session.add(facilitator)
    uow.emit(FacilitatorStatusChanged(producer="scheduling", facilitator_id=facilitator.id,
                                      status=status.value))  # type: ignore[arg-type]
    cancelled = 0
    if not domain.keeps_bookings(status, lapsed_keeps=settings.lapsed_keeps_bookings,
                                 suspended_keeps=settings.suspended_keeps_bookings):
        cancelled = await usecases.cancel_future_sessions(uow, facilitator_id=facilitator.id, settings=settings,
                                                          now=now)
    log.info("facilitator status changed", extra={"facilitator_id": str(facilitator.id), "status": status.value,
                                                  "sessions_cancelled": cancelled})
    return cancelled


async def renew_facilitator_link(
    uow: UnitOfWork, *, lead: RegionalLead, facilitator_id: UUID, settings: Settings
) -> None:
    """The lead asks for a facilitator's new personal link (emailed to the facilitator; the old one stops)."""
    facilitator = await facilitator_in_region(uow, lead=lead, facilitator_id=facilitator_id)
    await usecases.renew_link(uow, facilitator, settings=settings)


# --- availability ----------------------------------------------------------------------------------


async def publish_slots(
    uow: UnitOfWork, *, facilitator: Facilitator, availability: forms.AvailabilityInput, now: datetime
) -> list[Slot]:
    """Add weekly slots at the facilitator's local wall-clock time (DST-correct); overlaps are refused."""
    tz = ZoneInfo(facilitator.timezone)
    duration = timedelta(minutes=availability.minutes)
    starts = domain.weekly_starts(availability.first_day, availability.start, weeks=availability.weeks, tz=tz)
    if starts[0] <= now:
        raise Rejected("The first session must start in the future")
    existing = await uow.session.execute(
        select(Slot).where(
            col(Slot.facilitator_id) == facilitator.id,
            col(Slot.ends_at) > starts[0],
            col(Slot.starts_at) < starts[-1] + duration,
        )
    )
    mine = list(existing.scalars())
    for start in starts:
        clash = next((s for s in mine if domain.overlaps(s.starts_at, s.ends_at, start, start + duration)), None)
        if clash is not None:
            local = clash.starts_at.astimezone(tz)
            raise Rejected(f"You already have a time on {local:%A} {local.day} {local:%B %Y} at {local:%H:%M} "
                           "that overlaps. Choose a different time or fewer weeks")
    slots = [
        Slot(id=uuid4(), facilitator_id=facilitator.id, starts_at=start, ends_at=start + duration,
             mode=availability.mode, location=availability.location if availability.mode == "in_person" else None)
        for start in starts
    ]
    try:
        async with uow.session.begin_nested():
            uow.session.add_all(slots)
            await uow.session.flush()
    except IntegrityError as error:  # a concurrent publication took an overlapping time
        raise Rejected("One of these times overlaps a time you have just added. Check your times") from error
    await usecases.publish_availability_summary(uow, facilitator_id=facilitator.id, now=now)
    log.info("availability published", extra={"facilitator_id": str(facilitator.id), "slots": len(slots)})
    return slots


async def remove_slot(uow: UnitOfWork, *, facilitator: Facilitator, slot_id: UUID, now: datetime) -> None:
    slot = await uow.session.get(Slot, slot_id, with_for_update=True)
    if slot is None or slot.facilitator_id != facilitator.id:
        raise Rejected("There is no such time")
    used = await uow.session.execute(select(col(FeedbackSession.id)).where(col(FeedbackSession.slot_id) == slot_id))
    if used.first() is not None:
        raise Rejected("This time has a session booked on it (now or before), so it cannot be removed")
    await uow.session.delete(slot)
    await uow.session.flush()
    await usecases.publish_availability_summary(uow, facilitator_id=facilitator.id, now=now)


# --- call-outs -------------------------------------------------------------------------------------


async def publish_callout(uow: UnitOfWork, *, lead: RegionalLead, details: forms.CalloutInput) -> Callout:
    callout = Callout(id=uuid4(), lead_id=lead.id, region=lead.region, title=details.title, details=details.details,
                      mode=details.mode, period_start=details.period_start, period_end=details.period_end,
                      participants=details.participants, register_by=details.register_by)
    uow.session.add(callout)
    log.info("call-out published", extra={"callout_id": str(callout.id)})
    return callout


async def volunteer(
    uow: UnitOfWork, *, facilitator: Facilitator, callout_id: UUID, sessions: int, now: datetime, settings: Settings
) -> None:
    """A facilitator volunteers sessions for a call-out (again = change the number)."""
    callout = await uow.session.get(Callout, callout_id)
    if callout is None:
        raise Rejected("There is no such call-out")
    if now.astimezone(ZoneInfo(settings.timezone)).date() > callout.register_by:
        raise Rejected("The date to volunteer by has passed")
    if not domain.can_facilitate(facilitator.rules_view()):
        raise Rejected("Only active accredited facilitators can volunteer")
    statement = insert(CalloutVolunteer).values(callout_id=callout_id, facilitator_id=facilitator.id,
                                                sessions_offered=sessions, volunteered_at=now)
    await uow.session.execute(statement.on_conflict_do_update(
        index_elements=[col(CalloutVolunteer.callout_id), col(CalloutVolunteer.facilitator_id)],
        set_={"sessions_offered": sessions, "volunteered_at": now},
    ))


@dataclass(frozen=True)
class VolunteerView:
    facilitator: Facilitator
    sessions_offered: int
    free_slots_in_period: int


@dataclass(frozen=True)
class CalloutView:
    callout: Callout
    volunteers: list[VolunteerView]

    @property
    def sessions_offered(self) -> int:
        return sum(v.sessions_offered for v in self.volunteers)

    @property
    def shortfall(self) -> int:
        return max(self.callout.participants - self.sessions_offered, 0)


async def callout_view(uow: UnitOfWork, *, callout: Callout, settings: Settings) -> CalloutView:
    """Who volunteered, how many sessions each offers, and their free published times in the period."""
    tz = ZoneInfo(settings.timezone)
    rows = await uow.session.execute(
        select(CalloutVolunteer, Facilitator)
        .join(Facilitator, col(Facilitator.id) == col(CalloutVolunteer.facilitator_id))
        .where(col(CalloutVolunteer.callout_id) == callout.id)
        .order_by(col(Facilitator.name))
    )
    period_start = datetime.combine(callout.period_start, datetime.min.time(), tzinfo=tz)
    period_end = datetime.combine(callout.period_end + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    volunteers = []
    for offered, facilitator in rows.all():
        free = await usecases.free_slots(uow, facilitator_ids=[facilitator.id], not_before=period_start,
                                         per_facilitator=10_000)
        in_period = sum(1 for s in free if s.starts_at < period_end)
        volunteers.append(VolunteerView(facilitator=facilitator, sessions_offered=offered.sessions_offered,
                                        free_slots_in_period=in_period))
    return CalloutView(callout=callout, volunteers=volunteers)


# --- CPD -------------------------------------------------------------------------------------------


async def publish_cpd_event(
    uow: UnitOfWork, *, lead: RegionalLead, details: forms.CpdEventInput, settings: Settings
) -> CpdEvent:
    tz = ZoneInfo(settings.timezone)
    event = CpdEvent(
        id=uuid4(), lead_id=lead.id, region=lead.region, title=details.title,
        starts_at=domain.local_to_utc(details.day, details.start, tz=tz),
        ends_at=domain.local_to_utc(details.day, details.end, tz=tz), venue=details.venue, places=details.places,
    )
    uow.session.add(event)
    log.info("CPD event published", extra={"cpd_event_id": str(event.id)})
    return event


async def register_for_cpd(uow: UnitOfWork, *, facilitator: Facilitator, event_id: UUID, now: datetime) -> None:
    event = await uow.session.get(CpdEvent, event_id, with_for_update=True)  # serialises the last places
    if event is None:
        raise Rejected("There is no such CPD event")
    if event.starts_at <= now:
        raise Rejected("This CPD event has already started")
    if await uow.session.get(CpdRegistration, (event_id, facilitator.id)) is not None:
        return
    taken = (await uow.session.execute(
        select(func.count()).where(col(CpdRegistration.event_id) == event_id))).scalar_one()
    if taken >= event.places:
        raise Rejected("This CPD event is full")
    uow.session.add(CpdRegistration(event_id=event_id, facilitator_id=facilitator.id, registered_at=now))


async def record_attendance(uow: UnitOfWork, *, lead: RegionalLead, event_id: UUID, attended: set[UUID]) -> int:
    """Mark who attended (updates each facilitator's CPD record); returns how many attended."""
    event = await uow.session.get(CpdEvent, event_id)
    if event is None or event.lead_id != lead.id:
        raise Rejected("There is no such CPD event")
    rows = await uow.session.execute(select(CpdRegistration).where(col(CpdRegistration.event_id) == event_id))
    for registration in rows.scalars():
        registration.attended = registration.facilitator_id in attended
        uow.session.add(registration)
    return len(attended)


async def cpd_record(uow: UnitOfWork, *, facilitator_id: UUID) -> list[CpdEvent]:
    """CPD events the facilitator attended, latest first."""
    rows = await uow.session.execute(
        select(CpdEvent)
        .join(CpdRegistration, col(CpdRegistration.event_id) == col(CpdEvent.id))
        .where(col(CpdRegistration.facilitator_id) == facilitator_id, col(CpdRegistration.attended).is_(True))
        .order_by(col(CpdEvent.starts_at).desc())
    )
    return list(rows.scalars())


async def express_interest(uow: UnitOfWork, *, facilitator: Facilitator, interest: forms.InterestInput) -> CpdInterest:
    row = CpdInterest(id=uuid4(), facilitator_id=facilitator.id, region=facilitator.region, mode=interest.mode,
                      months=interest.months, topics=interest.topics)
    uow.session.add(row)
    return row
