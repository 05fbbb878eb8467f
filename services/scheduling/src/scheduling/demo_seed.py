"""Demo data, never production data (ADR 11): the fictional facilitators and regional leads a demo
and the tests need, and `seed`, which `python -m scheduling seed-demo` runs (`make up`, so `make demo`
and the e2e and browser tests) and the integration tests' fixtures call.

Fictional people and organisations with fixed ids (the browser tests and the README use them): four
facilitators in four regions, one of them lapsed, and one regional lead per NHS England region.
The active facilitators have 40 places a month, so repeated demo and end-to-end runs on one machine
keep finding times. Only `cli` and the demo's `ensure-availability` job (`jobs`, when
`seed_availability`) import this module."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from scheduling.config import Settings
from scheduling.tables import Facilitator, RegionalLead
from scheduling.usecases import directory, registry
from shared.db import UnitOfWork

log = logging.getLogger(__name__)

FACILITATORS: tuple[dict[str, Any], ...] = (
    {
        "id": UUID("9a3b8c1d-2e4f-4a5b-8c6d-7e8f9a0b1c2d"),
        "name": "Adaeze Nwosu",
        "email": "adaeze.nwosu@thameside.example.nhs.uk",
        "region": "London",
        "organisation": "Thameside NHS Foundation Trust",
        "status": "active",
        "elearning_passed_on": date(2024, 2, 12),
        "elearning_score": 92,
        "course_completed_on": date(2024, 3, 20),
        "monthly_capacity": 40,
        "languages": ["en", "yo"],
    },
    {
        "id": UUID("3f6d2a8e-51c4-4b7a-9e0d-6c2b8a4f1e37"),
        "name": "Gareth Holloway",
        "email": "gareth.holloway@trentside.example.nhs.uk",
        "region": "Midlands",
        "organisation": "Trentside University Hospitals NHS Trust",
        "status": "active",
        "elearning_passed_on": date(2023, 9, 4),
        "elearning_score": 85,
        "course_completed_on": date(2023, 10, 11),
        "monthly_capacity": 40,
        "languages": ["en"],
    },
    {
        "id": UUID("c84e1b52-7d3a-4f69-a1e8-0b5d9c2f6a43"),
        "name": "Priya Raman",
        "email": "priya.raman@penninevalley.example.nhs.uk",
        "region": "North East and Yorkshire",
        "organisation": "Pennine Valley NHS Trust",
        "status": "active",
        "elearning_passed_on": date(2025, 1, 15),
        "elearning_score": 81,
        "course_completed_on": date(2025, 2, 26),
        "monthly_capacity": 40,
        "languages": ["en", "ta", "hi"],
    },
    {
        "id": UUID("5e0a9d7c-2b8f-4c16-b3e4-8f7a1d6c0b95"),
        "name": "Morwenna Tregear",
        "email": "morwenna.tregear@severncoast.example.nhs.uk",
        "region": "South West",
        "organisation": "Severn Coast NHS Foundation Trust",
        "status": "lapsed",
        "elearning_passed_on": date(2019, 5, 2),
        "elearning_score": 88,
        "course_completed_on": date(2019, 6, 19),
        "monthly_capacity": 4,
        "languages": ["en", "kw"],
    },
)
FACILITATOR_IDS: tuple[UUID, ...] = tuple(f["id"] for f in FACILITATORS)

_LEAD_ID = "1d0c5a7e-0b1f-4e55-9a51-3c6f0a1e2b0"
# (id, region, name, email): one per NHS England region.
REGIONAL_LEADS: tuple[tuple[UUID, str, str, str], ...] = (
    (UUID(f"{_LEAD_ID}1"), "London", "Hannah Okoro", "london.lead@hlm360.example.nhs.uk"),
    (UUID(f"{_LEAD_ID}2"), "South East", "Tom Whitfield", "southeast.lead@hlm360.example.nhs.uk"),
    (UUID(f"{_LEAD_ID}3"), "South West", "Kerensa Pascoe", "southwest.lead@hlm360.example.nhs.uk"),
    (UUID(f"{_LEAD_ID}4"), "Midlands", "Rajinder Bassi", "midlands.lead@hlm360.example.nhs.uk"),
    (UUID(f"{_LEAD_ID}5"), "East of England", "Claire Ashby", "east.lead@hlm360.example.nhs.uk"),
    (UUID(f"{_LEAD_ID}6"), "North West", "Declan Murphy", "northwest.lead@hlm360.example.nhs.uk"),
    (UUID(f"{_LEAD_ID}7"), "North East and Yorkshire", "Aisha Rahman", "neyorks.lead@hlm360.example.nhs.uk"),
)

# What the seed restores on a demo facilitator (everything else, such as their link, stays theirs).
_SEEDED_COLUMNS = tuple(name for name in FACILITATORS[0] if name != "id")


@dataclass(frozen=True)
class Seeded:
    """What one run changed: a second run on the same day changes nothing."""

    facilitators: int  # added, or put back to the demo's details (and announced again)
    leads: int  # added, or put back to the demo's name and email
    announced: int  # facilitators whose directory events were published
    slots: int  # availability added


async def seed(uow: UnitOfWork, *, settings: Settings, now: datetime, availability: bool = True) -> Seeded:
    """Upsert the demo people (idempotent), announce the facilitators added or changed, and with
    `availability` top up the active ones' diaries once. The caller commits."""
    facilitators = await _upsert_facilitators(uow)
    leads = 0
    for lead_id, region, name, email in REGIONAL_LEADS:
        leads += await _upsert_lead(uow, lead_id=lead_id, region=region, name=name, email=email)
    announced = await directory.announce_facilitators(uow, now=now)
    slots = await top_up_availability(uow, settings=settings, now=now) if availability else 0
    result = Seeded(facilitators=facilitators, leads=leads, announced=announced, slots=slots)
    log.info("demo data seeded", extra=result.__dict__)
    return result


async def top_up_availability(uow: UnitOfWork, *, settings: Settings, now: datetime) -> int:
    """The demo facilitators' weekday slots for the coming weeks (job `ensure-availability`)."""
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    return await directory.ensure_availability(uow, facilitator_ids=FACILITATOR_IDS, settings=settings, today=today)


async def _upsert_facilitators(uow: UnitOfWork) -> int:
    """Insert the missing ones; put back the demo's details where they differ. Either way they are
    announced again (announced_at NULL), since FacilitatorRegistered carries those details."""
    table = Facilitator.__table__  # type: ignore[attr-defined]
    statement = insert(table).values([{**f, "announced_at": None} for f in FACILITATORS])
    upsert = statement.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={**{name: statement.excluded[name] for name in _SEEDED_COLUMNS}, "announced_at": None},
        where=or_(*(table.c[name].is_distinct_from(statement.excluded[name]) for name in _SEEDED_COLUMNS)),
    ).returning(table.c.id)
    return len((await uow.session.execute(upsert)).all())


async def _upsert_lead(uow: UnitOfWork, *, lead_id: UUID, region: str, name: str, email: str) -> int:
    """1 if the demo lead was added or put back; 0 if unchanged, or if an operator has set another
    lead for the region (`regional-lead set`: managed data is left alone)."""
    current = await registry.lead_in_region(uow, region=region)
    if current is None:
        added = await uow.session.execute(
            insert(RegionalLead)
            .values(id=lead_id, region=region, name=name, email=email)
            .on_conflict_do_nothing()
            .returning(col(RegionalLead.id))
        )
        return len(added.all())
    if current.id != lead_id or (current.name, current.email) == (name, email):
        return 0
    current.name, current.email = name, email
    uow.session.add(current)
    await uow.session.flush()
    return 1
