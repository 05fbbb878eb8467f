"""HTTP: the counts-only cycle API (admin token): a cycle's progress, and closing it early."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from ratings import usecases
from ratings.usecases import CycleSummary
from ratings.web.common import (
    now,
)
from ratings.web.deps import Runtime
from shared.contracts.vocabulary import RaterGroup
from shared.web.admin import Admin

router = APIRouter()


class CycleState(BaseModel):
    """Progress of a cycle: counts only, never anything about one rater or response."""

    cycle_id: UUID
    status: str
    deadline: datetime
    invited_per_group: dict[RaterGroup, int]
    responded_per_group: dict[RaterGroup, int]
    expected: int
    declined: int
    close_reason: str | None


def cycle_state(summary: CycleSummary) -> CycleState:
    return CycleState(
        cycle_id=summary.cycle_id,
        status=summary.status.value,
        deadline=summary.deadline,
        invited_per_group=summary.invited_per_group,
        responded_per_group=summary.responded_per_group,
        expected=summary.expected,
        declined=summary.declined,
        close_reason=summary.close_reason.value if summary.close_reason else None,
    )


@router.get("/api/cycles/{cycle_id}")
async def get_cycle(cycle_id: UUID, _: Admin, runtime: Runtime) -> CycleState:
    async with runtime.uow() as uow:
        summary = await usecases.cycle_summary(uow, cycle_id=cycle_id)
    if summary is None:
        raise HTTPException(status_code=404, detail="no such cycle")
    return cycle_state(summary)


@router.post("/api/cycles/{cycle_id}/close")
async def close_cycle(cycle_id: UUID, _: Admin, runtime: Runtime) -> CycleState:
    async with runtime.uow() as uow:
        summary = await usecases.close_cycle_early(uow, cycle_id=cycle_id, now=now())
        if summary is None:
            raise HTTPException(status_code=404, detail="no such cycle")
        await uow.commit()
    return cycle_state(summary)
