"""HTTP: the rater's questionnaire (server-rendered) and a counts-only cycle API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from ratings import pages, usecases
from ratings.domain import token_sha256
from ratings.questionnaire import parse_form
from ratings.usecases import Access, CycleSummary, RaterAccess
from shared.contracts.vocabulary import RaterGroup
from shared.questionnaire import ItemBank
from shared.service import ServiceRuntime, runtime_of

router = APIRouter()

MAX_TOKEN_LENGTH = 256


class CycleState(BaseModel):
    """Progress of a cycle: counts only, never anything about one rater or response."""

    cycle_id: UUID
    status: str
    deadline: datetime
    invited_per_group: dict[RaterGroup, int]
    responded_per_group: dict[RaterGroup, int]
    close_reason: str | None


def item_bank_of(request: Request) -> ItemBank:
    bank: ItemBank = request.app.state.item_bank
    return bank


Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]
Bank = Annotated[ItemBank, Depends(item_bank_of)]


def html(body: str, *, status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(body, status_code=status_code, headers={**pages.SECURITY_HEADERS, **(headers or {})})


def refusal(access: RaterAccess, *, posted: bool) -> HTMLResponse:
    """The page for a link that cannot take answers now; a refused POST is a conflict."""
    conflict = 409 if posted else 200
    match access.access:
        case Access.UNKNOWN:
            return html(pages.message_page(pages.UNKNOWN_LINK), status_code=404)
        case Access.NOT_OPEN:
            return html(pages.message_page(pages.NOT_READY), status_code=503, headers={"Retry-After": "60"})
        case Access.CLOSED:
            message = pages.CLOSED_AFTER_SUBMITTING if access.submitted else pages.CLOSED
            return html(pages.message_page(message), status_code=conflict)
        case _:
            return html(pages.message_page(pages.ALREADY_SUBMITTED), status_code=conflict)


async def access_of(runtime: ServiceRuntime, token: str) -> RaterAccess:
    if len(token) > MAX_TOKEN_LENGTH:
        return RaterAccess(Access.UNKNOWN)
    async with runtime.uow() as uow:
        return await usecases.rater_access(uow, token_hash=token_sha256(token), now=datetime.now(UTC))


@router.get("/r/{token}", response_class=HTMLResponse)
async def questionnaire(token: str, runtime: Runtime, bank: Bank) -> HTMLResponse:
    access = await access_of(runtime, token)
    if access.access is not Access.OPEN or access.group is None:
        return refusal(access, posted=False)
    return html(pages.questionnaire_page(bank, group=access.group, values={}, errors=()))


@router.post("/r/{token}", response_class=HTMLResponse, response_model=None)
async def submit(token: str, request: Request, runtime: Runtime, bank: Bank) -> HTMLResponse | RedirectResponse:
    access = await access_of(runtime, token)
    if access.access is not Access.OPEN or access.group is None:
        return refusal(access, posted=True)
    form = await request.form()
    values = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    result = parse_form(bank, values, self_rating=access.group is RaterGroup.SELF)
    if result.submission is None:
        page = pages.questionnaire_page(bank, group=access.group, values=values, errors=result.errors)
        return html(page, status_code=400)
    async with runtime.uow() as uow:
        try:
            outcome = await usecases.submit_response(
                uow,
                token_hash=token_sha256(token),
                submission=result.submission,
                questionnaire_version=bank.version,
                now=datetime.now(UTC),
            )
            await uow.commit()
        except IntegrityError:
            # The unique rater_id on responses caught a concurrent duplicate: the first one counted.
            outcome = RaterAccess(Access.SUBMITTED, access.group, submitted=True)
    if outcome.access is not Access.ACCEPTED:
        return refusal(outcome, posted=True)
    return RedirectResponse(f"/r/{token}/done", status_code=303, headers=pages.SECURITY_HEADERS)


@router.get("/r/{token}/done", response_class=HTMLResponse, response_model=None)
async def done(token: str, runtime: Runtime) -> HTMLResponse | RedirectResponse:
    access = await access_of(runtime, token)
    if access.access is Access.UNKNOWN:
        return refusal(access, posted=False)
    if not access.submitted:
        return RedirectResponse(f"/r/{token}", status_code=303, headers=pages.SECURITY_HEADERS)
    return html(pages.message_page(pages.DONE))


def cycle_state(summary: CycleSummary) -> CycleState:
    return CycleState(
        cycle_id=summary.cycle_id,
        status=summary.status.value,
        deadline=summary.deadline,
        invited_per_group=summary.invited_per_group,
        responded_per_group=summary.responded_per_group,
        close_reason=summary.close_reason.value if summary.close_reason else None,
    )


@router.get("/api/cycles/{cycle_id}")
async def get_cycle(cycle_id: UUID, runtime: Runtime) -> CycleState:
    async with runtime.uow() as uow:
        summary = await usecases.cycle_summary(uow, cycle_id=cycle_id)
    if summary is None:
        raise HTTPException(status_code=404, detail="no such cycle")
    return cycle_state(summary)


@router.post("/api/cycles/{cycle_id}/close")
async def close_cycle(cycle_id: UUID, runtime: Runtime) -> CycleState:
    async with runtime.uow() as uow:
        summary = await usecases.close_cycle_early(uow, cycle_id=cycle_id, now=datetime.now(UTC))
        if summary is None:
            raise HTTPException(status_code=404, detail="no such cycle")
        await uow.commit()
    return cycle_state(summary)
