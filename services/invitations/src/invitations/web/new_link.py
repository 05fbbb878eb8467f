"""Asking for a new personal link when one has expired (docs/adr/0016): a button on the expired
link's page posts here; the new link goes to the address on record, and the answer is the same
whether or not anything was sent. The expired link itself, signed by us, is the only credential:
no cookie is involved, so another site cannot post on someone's behalf without the link."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from invitations import pages
from invitations.links import APPROVAL, CONFIRM, PARTICIPANT
from invitations.usecases.new_links import send_new_link
from invitations.web.deps import (
    ApprovalLinkAnyDate,
    NewLinks,
    ParticipantLinkAnyDate,
    Runtime,
    SignedLink,
    client_of,
)
from shared.service import ServiceRuntime

router = APIRouter(include_in_schema=False)

PREFIXES = {PARTICIPANT: "p", APPROVAL: "approve", CONFIRM: "confirm"}


async def _ask(
    purpose: str, link: SignedLink, request: Request, runtime: ServiceRuntime, limits: NewLinks
) -> HTMLResponse:
    if not await limits.client_may_ask(client_of(request)):
        return pages.message(title="Try again later", body="Too many new links have been asked for.", status_code=429)
    if await limits.link_may_send(f"{purpose}:{link.cycle_id}"):
        async with runtime.uow() as uow:
            await send_new_link(uow, cycle_id=link.cycle_id, purpose=purpose)
            await uow.commit()
    return pages.new_link_asked()


@router.post("/p/{cycle_id}/{token}/new-link", response_class=HTMLResponse)
async def participant_new_link(
    link: ParticipantLinkAnyDate, request: Request, runtime: Runtime, limits: NewLinks
) -> HTMLResponse:
    return await _ask(PARTICIPANT, link, request, runtime, limits)


@router.post("/approve/{cycle_id}/{token}/new-link", response_class=HTMLResponse)
async def approval_new_link(
    link: ApprovalLinkAnyDate, request: Request, runtime: Runtime, limits: NewLinks
) -> HTMLResponse:
    return await _ask(APPROVAL, link, request, runtime, limits)
