"""HTTP API: the public facilitator directory, a cycle's session, and cycles needing attention."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel

from scheduling.tables import BookingRequest
from scheduling.usecases import common, directory, waiting
from shared.service import ServiceRuntime, runtime_of
from shared.web.admin import Admin

router = APIRouter()


class FacilitatorPublic(BaseModel):
    """Directory entry: public information only (no email, no organisation)."""

    id: UUID
    name: str
    region: str
    languages: list[str]


class SessionPublic(BaseModel):
    id: UUID
    cycle_id: UUID
    facilitator_id: UUID
    starts_at: datetime
    ends_at: datetime
    mode: str
    status: str
    ics_path: str


class UnscheduledPublic(BaseModel):
    """A cycle on the attention list (field names kept from the former `unscheduled_cycle` table)."""

    cycle_id: UUID
    report_id: UUID
    reason: str
    attempts: int
    first_seen_at: datetime
    last_attempt_at: datetime

    @classmethod
    def of(cls, request: BookingRequest) -> "UnscheduledPublic":
        assert request.unscheduled_reason is not None and request.last_offer_attempt_at is not None
        return cls(
            cycle_id=request.cycle_id,
            report_id=request.report_id,
            reason=request.unscheduled_reason,
            attempts=request.offer_attempts,
            first_seen_at=request.created_at,
            last_attempt_at=request.last_offer_attempt_at,
        )


@router.get("/api/facilitators")
async def list_facilitators(runtime: Annotated[ServiceRuntime, Depends(runtime_of)]) -> list[FacilitatorPublic]:
    async with runtime.uow() as uow:
        return [
            FacilitatorPublic(id=f.id, name=f.name, region=f.region, languages=list(f.languages))
            for f in await directory.bookable_facilitators(uow)
        ]


@router.get("/api/sessions")
async def session_of_cycle(
    cycle_id: Annotated[UUID, Query()], _: Admin, runtime: Annotated[ServiceRuntime, Depends(runtime_of)]
) -> SessionPublic:
    """The cycle's live session (requested, booked, completed or no-show), else its last cancelled one."""
    async with runtime.uow() as uow:
        session = await common.current_session_of(uow, cycle_id=cycle_id)
        if session is None:
            raise HTTPException(status_code=404, detail="no session booked for this cycle")
        return SessionPublic.model_validate(session, from_attributes=True)


@router.get("/api/unscheduled")
async def unscheduled_cycles(
    _: Admin, runtime: Annotated[ServiceRuntime, Depends(runtime_of)]
) -> list[UnscheduledPublic]:
    """Cycles with nothing offered yet, longest waiting first."""
    async with runtime.uow() as uow:
        return [UnscheduledPublic.of(request) for request in await waiting.attention_list(uow)]
