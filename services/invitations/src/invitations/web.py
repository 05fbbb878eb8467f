"""HTTP API: request a 360 (same use case as the Kafka intake)."""

from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import AwareDatetime, BaseModel, Field
from sqlalchemy import func, select
from sqlmodel import col

from invitations import usecases
from invitations.config import Settings
from invitations.tables import Cycle, Rater
from shared.contracts.events import CycleRequested, Funding, Participant, RaterNomination
from shared.errors import Rejected
from shared.service import ServiceRuntime, runtime_of

router = APIRouter()


class CycleRequest(BaseModel):
    """Body of POST /api/cycles: a CycleRequested without the envelope."""

    cycle_id: UUID = Field(default_factory=uuid4)
    participant: Participant
    programme: str | None = None
    facilitator_id: UUID | None = None
    deadline: AwareDatetime
    funding: Funding
    raters: list[RaterNomination] = Field(min_length=1, max_length=50)


class CycleAccepted(BaseModel):
    cycle_id: UUID
    created: bool


class CycleProgress(BaseModel):
    cycle_id: UUID
    status: str
    invited_per_group: dict[str, int]


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post("/api/cycles", status_code=202)
async def request_cycle(
    body: CycleRequest,
    runtime: Annotated[ServiceRuntime, Depends(runtime_of)],
    settings: Annotated[Settings, Depends(settings_of)],
) -> CycleAccepted:
    event = CycleRequested(producer="invitations-api", **body.model_dump())
    async with runtime.uow() as uow:
        try:
            created = await usecases.open_cycle(uow, event, settings=settings)
        except Rejected as rejection:
            raise HTTPException(status_code=422, detail=str(rejection)) from rejection
        await uow.commit()
    return CycleAccepted(cycle_id=event.cycle_id, created=created)


@router.get("/api/cycles/{cycle_id}")
async def cycle_progress(cycle_id: UUID, runtime: Annotated[ServiceRuntime, Depends(runtime_of)]) -> CycleProgress:
    async with runtime.uow() as uow:
        cycle = await uow.session.get(Cycle, cycle_id)
        if cycle is None:
            raise HTTPException(status_code=404, detail="no such cycle")
        rows = await uow.session.execute(
            select(col(Rater.group), func.count()).where(col(Rater.cycle_id) == cycle_id).group_by(col(Rater.group))
        )
        return CycleProgress(cycle_id=cycle_id, status=cycle.status, invited_per_group=dict(rows.tuples().all()))
