"""Call-outs for volunteers and CPD events: publishing, volunteering, registering, attendance (the
CPD record) and expressions of interest. The caller commits."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from scheduling import domain, forms
from scheduling.config import Settings
from scheduling.tables import (
    Callout,
    CalloutVolunteer,
    CpdEvent,
    CpdInterest,
    CpdRegistration,
    Facilitator,
    RegionalLead,
)
from scheduling.usecases.common import free_slots, in_region
from shared.db import UnitOfWork
from shared.errors import Rejected

log = logging.getLogger(__name__)


def _in_their_region(facilitator: Facilitator, region: str) -> bool:
    """Call-outs and CPD events are for the facilitators of their region: another region's are not theirs
    to open, volunteer for or register for, as their page never shows them."""
    return domain.same_region(facilitator.rules_view(), region=region)


async def publish_callout(uow: UnitOfWork, *, lead: RegionalLead, details: forms.CalloutInput) -> Callout:
    callout = Callout(
        id=uuid4(),
        lead_id=lead.id,
        region=lead.region,
        title=details.title,
        details=details.details,
        mode=details.mode,
        period_start=details.period_start,
        period_end=details.period_end,
        participants=details.participants,
        register_by=details.register_by,
    )
    uow.session.add(callout)
    log.info("call-out published", extra={"callout_id": str(callout.id)})
    return callout


async def volunteer(
    uow: UnitOfWork, *, facilitator: Facilitator, callout_id: UUID, sessions: int, now: datetime, settings: Settings
) -> None:
    """A facilitator volunteers sessions for a call-out (again = change the number)."""
    callout = await uow.session.get(Callout, callout_id)
    if callout is None or not _in_their_region(facilitator, callout.region):
        raise Rejected("There is no such call-out")
    if now.astimezone(ZoneInfo(settings.timezone)).date() > callout.register_by:
        raise Rejected("The date to volunteer by has passed")
    if not domain.can_facilitate(facilitator.rules_view()):
        raise Rejected("Only active accredited facilitators can volunteer")
    statement = insert(CalloutVolunteer).values(
        callout_id=callout_id, facilitator_id=facilitator.id, sessions_offered=sessions, volunteered_at=now
    )
    await uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=[col(CalloutVolunteer.callout_id), col(CalloutVolunteer.facilitator_id)],
            set_={"sessions_offered": sessions, "volunteered_at": now},
        )
    )


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
        free = await free_slots(uow, facilitator_ids=[facilitator.id], not_before=period_start, per_facilitator=10_000)
        in_period = sum(1 for s in free if s.starts_at < period_end)
        volunteers.append(
            VolunteerView(
                facilitator=facilitator, sessions_offered=offered.sessions_offered, free_slots_in_period=in_period
            )
        )
    return CalloutView(callout=callout, volunteers=volunteers)


async def publish_cpd_event(
    uow: UnitOfWork, *, lead: RegionalLead, details: forms.CpdEventInput, settings: Settings
) -> CpdEvent:
    tz = ZoneInfo(settings.timezone)
    event = CpdEvent(
        id=uuid4(),
        lead_id=lead.id,
        region=lead.region,
        title=details.title,
        starts_at=domain.local_to_utc(details.day, details.start, tz=tz),
        ends_at=domain.local_to_utc(details.day, details.end, tz=tz),
        venue=details.venue,
        places=details.places,
    )
    uow.session.add(event)
    log.info("CPD event published", extra={"cpd_event_id": str(event.id)})
    return event


async def register_for_cpd(uow: UnitOfWork, *, facilitator: Facilitator, event_id: UUID, now: datetime) -> None:
    event = await uow.session.get(CpdEvent, event_id, with_for_update=True)  # serialises the last places
    if event is None or not _in_their_region(facilitator, event.region):
        raise Rejected("There is no such CPD event")
    if event.starts_at <= now:
        raise Rejected("This CPD event has already started")
    if await uow.session.get(CpdRegistration, (event_id, facilitator.id)) is not None:
        return
    taken = (
        await uow.session.execute(select(func.count()).where(col(CpdRegistration.event_id) == event_id))
    ).scalar_one()
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
    row = CpdInterest(
        id=uuid4(),
        facilitator_id=facilitator.id,
        region=facilitator.region,
        mode=interest.mode,
        months=interest.months,
        topics=interest.topics,
    )
    uow.session.add(row)
    return row


# --- what the pages show -----------------------------------------------------------------------------


async def open_callouts(
    uow: UnitOfWork, *, facilitator: Facilitator, today: date
) -> list[tuple[Callout, CalloutVolunteer | None]]:
    """Call-outs in the facilitator's region still open to volunteers, with their own offer if any."""
    rows = await uow.session.execute(
        select(Callout, CalloutVolunteer)
        .outerjoin(
            CalloutVolunteer,
            (col(CalloutVolunteer.callout_id) == col(Callout.id))
            & (col(CalloutVolunteer.facilitator_id) == facilitator.id),
        )
        .where(in_region(Callout.region, facilitator.region), col(Callout.register_by) >= today)
        .order_by(col(Callout.register_by))
    )
    return [(callout, mine) for callout, mine in rows.all()]


async def upcoming_cpd_events(
    uow: UnitOfWork, *, facilitator: Facilitator, now: datetime
) -> list[tuple[CpdEvent, CpdRegistration | None]]:
    """CPD events to come in the facilitator's region, with their registration if any."""
    rows = await uow.session.execute(
        select(CpdEvent, CpdRegistration)
        .outerjoin(
            CpdRegistration,
            (col(CpdRegistration.event_id) == col(CpdEvent.id))
            & (col(CpdRegistration.facilitator_id) == facilitator.id),
        )
        .where(in_region(CpdEvent.region, facilitator.region), col(CpdEvent.starts_at) > now)
        .order_by(col(CpdEvent.starts_at))
    )
    return [(event, registration) for event, registration in rows.all()]


@dataclass(frozen=True)
class CalloutOffer:
    """A call-out as a facilitator sees it, with what they have offered so far."""

    callout: Callout
    mine: CalloutVolunteer | None


async def callout_offer(uow: UnitOfWork, *, facilitator: Facilitator, callout_id: UUID) -> CalloutOffer | None:
    callout = await uow.session.get(Callout, callout_id)
    if callout is None or not _in_their_region(facilitator, callout.region):
        return None
    return CalloutOffer(callout=callout, mine=await uow.session.get(CalloutVolunteer, (callout_id, facilitator.id)))


async def lead_callout(
    uow: UnitOfWork, *, lead: RegionalLead, callout_id: UUID, settings: Settings
) -> CalloutView | None:
    """One of the lead's call-outs with its volunteers; None if it is not theirs."""
    callout = await uow.session.get(Callout, callout_id)
    if callout is None or callout.lead_id != lead.id:
        return None
    return await callout_view(uow, callout=callout, settings=settings)


async def lead_callouts(uow: UnitOfWork, *, lead: RegionalLead) -> list[tuple[Callout, int, int]]:
    """The lead's call-outs, latest first: (call-out, volunteers, sessions offered)."""
    rows = await uow.session.execute(
        select(
            Callout,
            func.count(col(CalloutVolunteer.facilitator_id)),
            func.coalesce(func.sum(CalloutVolunteer.sessions_offered), 0),
        )
        .outerjoin(CalloutVolunteer, col(CalloutVolunteer.callout_id) == col(Callout.id))
        .where(col(Callout.lead_id) == lead.id)
        .group_by(col(Callout.id))
        .order_by(col(Callout.period_start).desc())
    )
    return [(callout, volunteers, offered) for callout, volunteers, offered in rows.all()]


async def lead_cpd_events(uow: UnitOfWork, *, lead: RegionalLead) -> list[tuple[CpdEvent, int]]:
    """The lead's CPD events, latest first: (event, registrations)."""
    rows = await uow.session.execute(
        select(CpdEvent, func.count(col(CpdRegistration.facilitator_id)))
        .outerjoin(CpdRegistration, col(CpdRegistration.event_id) == col(CpdEvent.id))
        .where(col(CpdEvent.lead_id) == lead.id)
        .group_by(col(CpdEvent.id))
        .order_by(col(CpdEvent.starts_at).desc())
    )
    return [(event, registered) for event, registered in rows.all()]


async def interests_in_region(uow: UnitOfWork, *, lead: RegionalLead) -> list[tuple[CpdInterest, Facilitator]]:
    """Expressions of interest from facilitators of the lead's region, latest first."""
    rows = await uow.session.execute(
        select(CpdInterest, Facilitator)
        .join(Facilitator, col(Facilitator.id) == col(CpdInterest.facilitator_id))
        .where(in_region(CpdInterest.region, lead.region))
        .order_by(col(CpdInterest.created_at).desc())
    )
    return [(interest, facilitator) for interest, facilitator in rows.all()]


@dataclass(frozen=True)
class CpdEventPage:
    """One of the lead's CPD events with who registered (by name)."""

    event: CpdEvent
    registrations: list[tuple[CpdRegistration, Facilitator]]


async def lead_cpd_event(uow: UnitOfWork, *, lead: RegionalLead, event_id: UUID) -> CpdEventPage | None:
    event = await uow.session.get(CpdEvent, event_id)
    if event is None or event.lead_id != lead.id:
        return None
    rows = await uow.session.execute(
        select(CpdRegistration, Facilitator)
        .join(Facilitator, col(Facilitator.id) == col(CpdRegistration.facilitator_id))
        .where(col(CpdRegistration.event_id) == event_id)
        .order_by(col(Facilitator.name))
    )
    return CpdEventPage(event=event, registrations=[(r, f) for r, f in rows.all()])


async def registered_for(uow: UnitOfWork, *, event_id: UUID) -> list[UUID]:
    """The facilitators registered for a CPD event (the attendance form's choices)."""
    rows = await uow.session.execute(
        select(col(CpdRegistration.facilitator_id)).where(col(CpdRegistration.event_id) == event_id)
    )
    return list(rows.scalars())
