"""The line manager's pages: approve the nomination list, or not (`/approve/{cycle_id}/{token}`)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from invitations import pages
from invitations.usecases.dashboard import approval_view
from invitations.usecases.nominations import decide_approval
from invitations.web.deps import ApprovalLink, ApprovalLinkLimited, Config, Runtime, reading
from shared.errors import Rejected
from shared.service import ServiceRuntime

router = APIRouter()


@router.get("/approve/{cycle_id}/{token}", response_class=HTMLResponse)
async def approval_page(link: ApprovalLinkLimited, runtime: Runtime) -> HTMLResponse:
    return await _approval(runtime, link.cycle_id, errors=[])


async def _approval(runtime: ServiceRuntime, cycle_id: UUID, *, errors: list[tuple[str, str]]) -> HTMLResponse:
    async with reading(runtime) as uow:
        view = await approval_view(uow, cycle_id)
    return pages.approval(view, errors=errors)


@router.post("/approve/{cycle_id}/{token}", response_class=HTMLResponse)
async def approval_submit(link: ApprovalLink, request: Request, runtime: Runtime, settings: Config) -> HTMLResponse:
    decision = str((await request.form()).get("decision", ""))
    if decision not in ("approve", "reject"):
        return await _approval(runtime, link.cycle_id, errors=[("decision-1", "Select whether you approve the list")])
    try:
        async with runtime.uow() as uow:
            await decide_approval(uow, link.cycle_id, approve=decision == "approve", settings=settings)
            await uow.commit()
    except Rejected:
        return await _approval(runtime, link.cycle_id, errors=[])
    return pages.decision_saved(approved=decision == "approve")
