"""The public pages: start a 360 (the form, its answers checked field by field) and the page after."""

from __future__ import annotations

from uuid import UUID, uuid4

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from invitations import links, pages
from invitations.config import Settings
from invitations.domain import DEFAULT_LANGUAGE, PUBLIC_CREDIT_REFUSAL, CreditRefused
from invitations.forms import CHECK_ANSWERS, StartForm, read_start_form, start_error_field
from invitations.usecases.common import limits_of
from invitations.usecases.dashboard import cycle_status
from invitations.usecases.facilitators import choosable_facilitators
from invitations.usecases.intake import confirm_cycle
from invitations.web.api import open_cycle
from invitations.web.deps import TOO_MANY_REQUESTS, Config, ConfirmLink, Limits, Runtime, client_of, reading
from shared.errors import Rejected
from shared.service import ServiceRuntime

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
@router.get("/start", response_class=HTMLResponse)
async def start_page(runtime: Runtime, settings: Config) -> HTMLResponse:
    form = StartForm(values={"preferred_language": DEFAULT_LANGUAGE})
    _server_cycle_id(form, settings)
    return await _start_page(runtime, settings, form)


def _server_cycle_id(form: StartForm, settings: Settings) -> None:
    """The id of the 360 the form asks for is the server's: one it issued with this page (signed, so
    a double submit opens one 360), else a new one; a client never chooses it (it could otherwise
    take the id a cohort import will use)."""
    keys, values = settings.signing_keys(), form.values
    try:
        given: UUID | None = UUID(values.get("cycle_id", ""))
    except ValueError:
        given = None
    if given is None or not links.form_token_matches(keys, given, values.get("cycle_token", "")):
        given = uuid4()
    values["cycle_id"], values["cycle_token"] = str(given), links.form_token(keys, given)


async def _start_page(runtime: ServiceRuntime, settings: Settings, form: StartForm) -> HTMLResponse:
    async with reading(runtime) as uow:
        choices = await choosable_facilitators(uow)
    return pages.start(form, facilitators=choices, settings=settings)


@router.post("/start", response_class=HTMLResponse, response_model=None)
async def start_submit(
    request: Request, runtime: Runtime, settings: Config, limits: Limits
) -> HTMLResponse | RedirectResponse:
    form = StartForm.submitted(await request.form())
    _server_cycle_id(form, settings)
    event, has_reports = read_start_form(form, settings=settings, limits=limits_of(settings))
    if event is None:
        return await _start_page(runtime, settings, form)
    if not await limits.allow(client=client_of(request), participant_email=str(event.participant.email)):
        return pages.message(title="Try again later", body=TOO_MANY_REQUESTS + ".", status_code=429)
    try:
        await open_cycle(
            runtime,
            event,
            settings=settings,
            has_direct_reports=has_reports,
            confirm_first=settings.confirm_public_requests,
        )
    except HTTPException as refused:
        if not isinstance(refused.detail, str):
            form.add("given-name", CHECK_ANSWERS)
            return await _start_page(runtime, settings, form)
        message = refused.detail
        form.add(start_error_field(message), message[0].upper() + message[1:])
        return await _start_page(runtime, settings, form)
    return RedirectResponse(f"/started/{event.cycle_id}", status_code=303)


@router.get("/started/{cycle_id}", response_class=HTMLResponse)
async def started(cycle_id: UUID, runtime: Runtime) -> HTMLResponse:
    async with reading(runtime) as uow:
        status = await cycle_status(uow, cycle_id)
    return pages.started(status)


@router.get("/confirm/{cycle_id}/{token}", response_class=HTMLResponse)
async def confirm_page(link: ConfirmLink) -> HTMLResponse:
    """The emailed link shows a button (a mail scanner opening the link confirms nothing)."""
    return pages.confirm(action=f"/confirm/{link.cycle_id}/{link.token}")


@router.post("/confirm/{cycle_id}/{token}", response_class=HTMLResponse)
async def confirm_submit(link: ConfirmLink, runtime: Runtime, settings: Config) -> HTMLResponse:
    try:
        async with runtime.uow() as uow:
            cycle = await confirm_cycle(uow, link.cycle_id, settings=settings)
            status = cycle.status
            await uow.commit()
    except Rejected as rejection:
        message = PUBLIC_CREDIT_REFUSAL if isinstance(rejection, CreditRefused) else str(rejection)
        return pages.message(title="Your 360 could not start", body=message[0].upper() + message[1:], status_code=409)
    return pages.confirmed(status)
