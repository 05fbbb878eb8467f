"""The register kept by regional leads: adding facilitators, accreditation, status (announced on
Kafka), renewing personal links. The caller commits."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID, uuid4

from sqlalchemy import func, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from scheduling import domain, forms
from scheduling.config import Settings
from scheduling.links import LinkPurpose
from scheduling.tables import (
    BookingRequest,
    Callout,
    CpdEvent,
    CpdInterest,
    Facilitator,
    FeedbackSession,
    RegionalLead,
)
from scheduling.usecases.common import LIVE, in_region, links, queue_email
from scheduling.usecases.community import cpd_record, interests_in_region, lead_callouts, lead_cpd_events
from scheduling.usecases.directory import directory_events
from scheduling.usecases.sessions import cancel_future_sessions
from scheduling.usecases.waiting import waiting_in_region
from shared.contracts.events import (
    FacilitatorAccredited,
    FacilitatorStatusChanged,
)
from shared.db import UnitOfWork
from shared.errors import Rejected

log = logging.getLogger(__name__)


async def renew_link(uow: UnitOfWork, subject: Facilitator | RegionalLead, *, settings: Settings) -> str:
    """Give a facilitator or regional lead a new personal link (e.g. the old one was forwarded or
    lost): their link version goes up, so every older link stops working, and the new link is
    emailed to them (never shown to whoever asked). Returns the new link."""
    table = type(subject)
    version = (
        await uow.session.execute(
            update(table)
            .where(col(table.id) == subject.id)
            .values(link_version=col(table.link_version) + 1)
            .returning(col(table.link_version))
        )
    ).scalar_one()
    set_committed_value(subject, "link_version", version)
    if isinstance(subject, Facilitator):
        url, page, purpose = links(settings).facilitator(subject), "facilitator page", LinkPurpose.FACILITATOR
    else:
        url, page, purpose = links(settings).lead(subject), "regional lead page", LinkPurpose.LEAD
    queue_email(
        uow, kind="new_link", to=subject.email, cycle_id=None, context={"name": subject.name, "link": url, "page": page}
    )
    log.info(
        "personal link renewed",
        extra={"link_purpose": purpose.value, "subject_id": str(subject.id), "link_version": version},
    )
    return url


async def register_facilitator(
    uow: UnitOfWork, *, lead: RegionalLead, details: forms.FacilitatorInput, now: datetime
) -> Facilitator:
    """A regional lead adds a facilitator to the region's register (announced on Kafka at once)."""
    taken = await uow.session.execute(select(col(Facilitator.id)).where(func.lower(Facilitator.email) == details.email))
    if taken.first() is not None:
        raise Rejected("A facilitator with this email address is already registered")
    accreditation = details.accreditation
    facilitator = Facilitator(
        id=uuid4(),
        name=details.name,
        email=details.email,
        phone=details.phone,
        region=lead.region,
        organisation=details.organisation,
        status=domain.FacilitatorStatus.ACTIVE.value,
        elearning_score=accreditation.score if accreditation else None,
        elearning_passed_on=accreditation.passed_on if accreditation else None,
        course_completed_on=accreditation.course_on if accreditation else None,
        monthly_capacity=details.monthly_capacity,
        languages=details.languages,
        registered_at=now,
        announced_at=now,
        line_manager_email=details.line_manager_email,
    )
    uow.session.add(facilitator)
    await uow.session.flush()
    for event in directory_events(facilitator):
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
    uow.emit(
        FacilitatorAccredited(
            producer="scheduling",
            facilitator_id=facilitator.id,
            elearning_score=accreditation.score,
            elearning_passed_on=accreditation.passed_on,
            course_completed_on=accreditation.course_on,
        )
    )
    return facilitator


async def change_status(
    uow: UnitOfWork,
    *,
    lead: RegionalLead,
    facilitator_id: UUID,
    status: domain.FacilitatorStatus,
    settings: Settings,
    now: datetime,
) -> int:
    """Active, lapsed or suspended. Returns how many future sessions were cancelled (per configuration)."""
    facilitator = await facilitator_in_region(uow, lead=lead, facilitator_id=facilitator_id)
    if facilitator.status == status.value:
        return 0
    facilitator.status = status.value
    uow.session.add(facilitator)
    uow.emit(FacilitatorStatusChanged(producer="scheduling", facilitator_id=facilitator.id, status=status.value))  # type: ignore[arg-type]
    cancelled = 0
    if not domain.keeps_bookings(
        status, lapsed_keeps=settings.lapsed_keeps_bookings, suspended_keeps=settings.suspended_keeps_bookings
    ):
        cancelled = await cancel_future_sessions(uow, facilitator_id=facilitator.id, settings=settings, now=now)
    log.info(
        "facilitator status changed",
        extra={"facilitator_id": str(facilitator.id), "status": status.value, "sessions_cancelled": cancelled},
    )
    return cancelled


async def renew_facilitator_link(
    uow: UnitOfWork, *, lead: RegionalLead, facilitator_id: UUID, settings: Settings
) -> None:
    """The lead asks for a facilitator's new personal link (emailed to the facilitator; the old one stops)."""
    facilitator = await facilitator_in_region(uow, lead=lead, facilitator_id=facilitator_id)
    await renew_link(uow, facilitator, settings=settings)


async def lead_in_region(uow: UnitOfWork, *, region: str) -> RegionalLead | None:
    """The lead of `region` (compared ignoring case and spacing), locked for update."""
    rows = await uow.session.execute(
        select(RegionalLead).where(in_region(RegionalLead.region, region)).with_for_update()
    )
    return rows.scalars().first()


@dataclass(frozen=True)
class LeadSet:
    lead: RegionalLead
    created: bool
    # A different person now leads the region: the previous lead's link stops working.
    link_renewed: bool


async def set_regional_lead(uow: UnitOfWork, *, details: forms.RegionalLeadInput) -> LeadSet:
    """Add a region's lead, or change who leads it (the region keeps its lead id, so its call-outs and
    CPD events stay with it). A new email address is a new person: the link version goes up, so the
    previous lead's link stops working; a corrected name keeps the link."""
    lead = await lead_in_region(uow, region=details.region)
    if lead is None:
        lead = RegionalLead(id=uuid4(), region=details.region, name=details.name, email=details.email)
        uow.session.add(lead)
        await uow.session.flush()
        log.info("regional lead added", extra={"lead_id": str(lead.id)})
        return LeadSet(lead=lead, created=True, link_renewed=False)
    renewed = lead.email.casefold() != details.email.casefold()
    lead.name, lead.email = details.name, details.email
    if renewed:
        lead.link_version += 1
    uow.session.add(lead)
    await uow.session.flush()
    log.info("regional lead changed", extra={"lead_id": str(lead.id), "link_renewed": renewed})
    return LeadSet(lead=lead, created=False, link_renewed=renewed)


async def regional_leads(uow: UnitOfWork) -> list[RegionalLead]:
    return list((await uow.session.execute(select(RegionalLead).order_by(col(RegionalLead.region)))).scalars())


LinkKind = Literal["facilitator", "lead"]


async def personal_links(
    uow: UnitOfWork,
    *,
    settings: Settings,
    lead_ids: Collection[UUID] | None = None,
    facilitator_ids: Collection[UUID] | None = None,
) -> list[tuple[LinkKind, str, UUID, str]]:
    """(kind, region, id, link) of the chosen regional leads, then the chosen facilitators (None: every
    one of that kind), for an administrator to hand out."""
    leads = select(RegionalLead).order_by(col(RegionalLead.region))
    facilitators = select(Facilitator).order_by(col(Facilitator.region), col(Facilitator.name))
    if lead_ids is not None:
        leads = leads.where(col(RegionalLead.id).in_(list(lead_ids)))
    if facilitator_ids is not None:
        facilitators = facilitators.where(col(Facilitator.id).in_(list(facilitator_ids)))
    signer = links(settings)
    found: list[tuple[LinkKind, str, UUID, str]] = [
        ("lead", lead.region, lead.id, signer.lead(lead)) for lead in (await uow.session.execute(leads)).scalars()
    ]
    return found + [
        ("facilitator", f.region, f.id, signer.facilitator(f))
        for f in (await uow.session.execute(facilitators)).scalars()
    ]


async def renew_link_of(uow: UnitOfWork, *, kind: LinkKind, subject_id: UUID, settings: Settings) -> bool:
    """An administrator renews a facilitator's or lead's link; False if there is no such person."""
    table: type[Facilitator] | type[RegionalLead] = Facilitator if kind == "facilitator" else RegionalLead
    subject = await uow.session.get(table, subject_id)
    if not isinstance(subject, Facilitator | RegionalLead):
        return False
    await renew_link(uow, subject, settings=settings)
    return True


# --- what the regional lead's pages show, and whose links these are ----------------------------------


async def facilitator_of(uow: UnitOfWork, *, facilitator_id: UUID) -> Facilitator | None:
    return await uow.session.get(Facilitator, facilitator_id)


async def lead_of(uow: UnitOfWork, *, lead_id: UUID) -> RegionalLead | None:
    return await uow.session.get(RegionalLead, lead_id)


async def link_version(uow: UnitOfWork, *, kind: LinkKind, subject_id: UUID) -> int | None:
    """The facilitator's or lead's current link version (older versions no longer verify); None: nobody."""
    table: type[Facilitator] | type[RegionalLead] = Facilitator if kind == "facilitator" else RegionalLead
    version = (
        await uow.session.execute(select(col(table.link_version)).where(col(table.id) == subject_id))
    ).scalar_one_or_none()
    return None if version is None else int(version)


@dataclass(frozen=True)
class LeadHome:
    """The regional lead's page: waiting participants, the register, call-outs, CPD events, interest."""

    waiting: list[BookingRequest]
    facilitators: list[Facilitator]
    callouts: list[tuple[Callout, int, int]]
    events: list[tuple[CpdEvent, int]]
    interests: list[tuple[CpdInterest, Facilitator]]


async def lead_home(uow: UnitOfWork, *, lead: RegionalLead) -> LeadHome:
    facilitators = await uow.session.execute(
        select(Facilitator).where(in_region(Facilitator.region, lead.region)).order_by(col(Facilitator.name))
    )
    return LeadHome(
        waiting=await waiting_in_region(uow, region=lead.region),
        facilitators=list(facilitators.scalars()),
        callouts=await lead_callouts(uow, lead=lead),
        events=await lead_cpd_events(uow, lead=lead),
        interests=await interests_in_region(uow, lead=lead),
    )


@dataclass(frozen=True)
class LeadFacilitatorPage:
    """A facilitator of the lead's region: their record, sessions to come and CPD record."""

    facilitator: Facilitator
    upcoming: int
    cpd: list[CpdEvent]


async def lead_facilitator_page(
    uow: UnitOfWork, *, lead: RegionalLead, facilitator_id: UUID, now: datetime
) -> LeadFacilitatorPage:
    """Refused (Rejected) if the facilitator is not in the lead's region."""
    facilitator = await facilitator_in_region(uow, lead=lead, facilitator_id=facilitator_id)
    upcoming = (
        await uow.session.execute(
            select(func.count()).where(
                col(FeedbackSession.facilitator_id) == facilitator.id, LIVE, col(FeedbackSession.starts_at) > now
            )
        )
    ).scalar_one()
    return LeadFacilitatorPage(
        facilitator=facilitator, upcoming=upcoming, cpd=await cpd_record(uow, facilitator_id=facilitator.id)
    )
