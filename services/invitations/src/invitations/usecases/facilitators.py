"""Read model of the facilitators a participant may choose, kept from scheduling's events (which
arrive on several topics in any order)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from invitations.domain import FacilitatorState, not_choosable_because
from invitations.tables import Facilitator
from shared.contracts.events import (
    AvailabilityPublished,
    FacilitatorAccredited,
    FacilitatorRegistered,
    FacilitatorStatusChanged,
)
from shared.db import UnitOfWork


async def _facilitator(uow: UnitOfWork, facilitator_id: UUID) -> Facilitator:
    # events of one facilitator arrive on several topics in any order: upsert, then update fields
    await uow.session.execute(
        insert(Facilitator)
        .values(id=facilitator_id, registered=False, accredited=False, modes="")
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
        f
        for f in rows.scalars()
        if not not_choosable_because(FacilitatorState(f.registered, f.accredited, f.status, f.free_slots))
    ]
