"""The JSON API: request a 360 (the same use case as the Kafka intake), a cycle's progress (admin),
the facilitators a participant may choose."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Header, HTTPException, Request
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, ValidationError, model_validator
from sqlalchemy.exc import IntegrityError

from invitations import links
from invitations.config import Settings
from invitations.domain import (
    PUBLIC_CREDIT_REFUSAL,
    CreditRefused,
    NominationsRefused,
    mailbox_key,
    verified_participant_id,
)
from invitations.forms import error_fields
from invitations.usecases import dashboard, intake
from invitations.usecases.facilitators import choosable_facilitators
from invitations.web.deps import TOO_MANY_REQUESTS, Config, Limits, Runtime, client_of, reading
from shared.contracts.events import CycleRequested, Funding, Participant, RaterNomination
from shared.contracts.text import SingleLine
from shared.errors import Rejected
from shared.service import ServiceRuntime
from shared.web.admin import Admin

log = logging.getLogger(__name__)
router = APIRouter()


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


SERVER_CHOSEN_ID = "cycle ids are chosen by hlm360: leave cycle_id out; send an Idempotency-Key header to retry safely"
IDEMPOTENCY_KEY = Header(
    alias="Idempotency-Key",
    min_length=8,
    max_length=100,
    pattern=r"^[\x21-\x7e]+$",
    description="Any printable ASCII text (8-100 characters) the caller chooses per request: sending the same "
    "request with the same key again opens nothing new and answers with the same cycle id.",
)


class CycleRequest(BaseModel):
    """Body of POST /api/cycles: a CycleRequested without the envelope and without `cycle_id` (the
    server chooses it), with the same field types, so FastAPI refuses bad input with a 422 before the
    handler runs."""

    @model_validator(mode="before")
    @classmethod
    def _no_cycle_id(cls, data: object) -> object:
        if isinstance(data, dict) and "cycle_id" in data:
            raise ValueError(SERVER_CHOSEN_ID)
        return data

    participant: Participant
    programme: Annotated[SingleLine | None, BeforeValidator(_blank_is_none)] = Field(
        default=None,
        description="Programme requiring the 360, if any. Empty or blank means none, as on the start page.",
        examples=["Mary Seacole Programme"],
    )
    facilitator_id: UUID | None = None
    deadline: AwareDatetime
    funding: Funding
    raters: list[RaterNomination] = Field(min_length=1, max_length=50)


class CycleAccepted(BaseModel):
    cycle_id: UUID
    created: bool
    # awaiting_confirmation: nobody is contacted until the participant confirms by the emailed link
    status: str | None = None


class CycleProgress(BaseModel):
    cycle_id: UUID
    status: str
    invited_per_group: dict[str, int]


class FacilitatorChoice(BaseModel):
    id: UUID
    name: str | None
    region: str | None
    free_slots: int | None
    next_free_slot_at: datetime | None


def unprocessable(error: ValidationError, *, within: tuple[str, ...] = ("body",)) -> HTTPException:
    """A 422 shaped like FastAPI's own, naming each field but never echoing what was sent."""
    detail = [
        {"type": item["type"], "loc": [*within, *item["loc"]], "msg": item["msg"]}
        for item in error.errors(include_url=False, include_context=False, include_input=False)
    ]
    return HTTPException(status_code=422, detail=detail)


@router.post("/api/cycles", status_code=202)
async def request_cycle(
    body: CycleRequest,
    request: Request,
    runtime: Runtime,
    settings: Config,
    limits: Limits,
    idempotency_key: Annotated[str | None, IDEMPOTENCY_KEY] = None,
) -> CycleAccepted:
    if idempotency_key is None:
        cycle_id = uuid4()
    else:
        mailbox = mailbox_key(str(body.participant.email))
        cycle_id = links.requested_cycle_id(settings.signing_keys(), mailbox=mailbox, idempotency_key=idempotency_key)
    try:
        # the body was validated with the contract's types already; this guard keeps any rule the
        # event adds later from becoming a 500
        event = CycleRequested(producer="invitations-api", cycle_id=cycle_id, **body.model_dump())
    except ValidationError as error:
        raise unprocessable(error) from error
    if not await limits.allow(client=client_of(request), participant_email=str(event.participant.email)):
        raise HTTPException(status_code=429, detail=TOO_MANY_REQUESTS)
    # a typed participant id is not verified: earlier 360s are linked by the confirmed mailbox only
    verified = event.participant.model_copy(
        update={"participant_id": verified_participant_id(str(event.participant.email))}
    )
    event = event.model_copy(update={"participant": verified})
    created = await open_cycle(runtime, event, settings=settings, confirm_first=settings.confirm_public_requests)
    async with reading(runtime) as uow:
        status = await dashboard.cycle_status(uow, event.cycle_id)
    return CycleAccepted(cycle_id=event.cycle_id, created=created, status=status)


async def open_cycle(
    runtime: ServiceRuntime,
    event: CycleRequested,
    *,
    settings: Settings,
    has_direct_reports: bool | None = None,
    confirm_first: bool = False,
) -> bool:
    """Open the requested 360 in one transaction; a refusal is a 422 (HTTPException)."""
    try:
        async with runtime.uow() as uow:
            created = await intake.open_cycle(
                uow, event, settings=settings, has_direct_reports=has_direct_reports, confirm_first=confirm_first
            )
            await uow.commit()
    except CreditRefused as refused:
        raise HTTPException(status_code=422, detail=PUBLIC_CREDIT_REFUSAL) from refused
    except NominationsRefused as refused:
        raise HTTPException(status_code=422, detail=nomination_errors(refused)) from refused
    except Rejected as rejection:
        raise HTTPException(status_code=422, detail=str(rejection)) from rejection
    except ValidationError as error:
        # an event derived from the request broke the contract: the request's fault, not a 500
        log.warning("cycle request failed contract validation", extra={"fields": error_fields(error)})
        raise unprocessable(error, within=()) from error
    except IntegrityError:
        # the same request arrived twice at once: the other one opened it
        return False
    return created


def nomination_errors(refused: NominationsRefused) -> list[dict[str, object]]:
    """A refused nomination list as a 422's detail: each problem at its rater's field (by position in
    `raters`), or at `raters` for the list as a whole; never echoing an address."""
    return [
        {
            "type": "nomination",
            "loc": ["body", "raters", *([] if p.index is None else [p.index, p.part])],
            "msg": p.message,
        }
        for p in refused.problems
    ]


@router.get("/api/cycles/{cycle_id}")
async def cycle_progress(cycle_id: UUID, _: Admin, runtime: Runtime) -> CycleProgress:
    async with runtime.uow() as uow:
        found = await dashboard.cycle_progress(uow, cycle_id)
    if found is None:
        raise HTTPException(status_code=404, detail="no such cycle")
    status, invited = found
    return CycleProgress(cycle_id=cycle_id, status=status, invited_per_group=invited)


@router.get("/api/facilitators")
async def facilitators(runtime: Runtime) -> list[FacilitatorChoice]:
    """Facilitators a participant may choose now (from scheduling's events)."""
    async with reading(runtime) as uow:
        rows = await choosable_facilitators(uow)
    return [
        FacilitatorChoice(
            id=f.id, name=f.name, region=f.region, free_slots=f.free_slots, next_free_slot_at=f.next_free_slot_at
        )
        for f in rows
    ]
