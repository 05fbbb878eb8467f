"""The regional lead's pages, `/lead/{lead_id}/{signature}`: sessions waiting to be booked in the region,
the register (add, status, accreditation, new personal link), call-outs, CPD events and attendance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from scheduling import forms, pages
from scheduling.config import Settings
from scheduling.usecases import community, registry
from scheduling.web.deps import (
    Config,
    LeadLink,
    LinkNotRecognised,
    Runtime,
    SignedLink,
    form_values,
    now,
    redirect,
    reset,
    today,
)
from shared.db import UnitOfWork
from shared.errors import Rejected

if TYPE_CHECKING:
    from scheduling.tables import RegionalLead

router = APIRouter(include_in_schema=False)


async def _lead(uow: UnitOfWork, link: SignedLink) -> RegionalLead:
    lead = await registry.lead_of(uow, lead_id=link.id)
    if lead is None:
        raise LinkNotRecognised
    return lead


@router.get("/lead/{lead_id}/{signature}", response_class=HTMLResponse)
async def lead_page(link: LeadLink, request: Request, runtime: Runtime, settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        lead = await _lead(uow, link)
        home = await registry.lead_home(uow, lead=lead)
        return pages.lead_home(settings, lead, home, base=link.base, done=request.query_params.get("done"), now=now())


@router.get("/lead/{lead_id}/{signature}/facilitators/new", response_class=HTMLResponse)
async def new_facilitator_form(link: LeadLink, runtime: Runtime, settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        await _lead(uow, link)
    return pages.new_facilitator(settings, base=link.base, values={"capacity": "4"}, languages=["en"], errors=[])


@router.post("/lead/{lead_id}/{signature}/facilitators/new", response_class=HTMLResponse, response_model=None)
async def add_facilitator(
    link: LeadLink, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse | RedirectResponse:
    values, multi = await form_values(request)
    async with runtime.uow() as uow:
        lead = await _lead(uow, link)
        parsed = forms.parse_facilitator(values, multi.get("languages", []), today=today(settings))
        errors = parsed if isinstance(parsed, list) else []
        if isinstance(parsed, forms.FacilitatorInput):
            try:
                await registry.register_facilitator(uow, lead=lead, details=parsed, now=now())
                await uow.commit()
                return redirect(link.base, done="facilitator")
            except Rejected as rejection:
                errors = [("email", str(rejection))]
    return pages.new_facilitator(
        settings, base=link.base, values=values, languages=multi.get("languages", []), errors=errors, status_code=400
    )


async def _lead_facilitator_page(
    uow: UnitOfWork,
    lead: RegionalLead,
    facilitator_id: UUID,
    *,
    settings: Settings,
    base: str,
    values: Mapping[str, str],
    errors: forms.Errors,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        view = await registry.lead_facilitator_page(uow, lead=lead, facilitator_id=facilitator_id, now=now())
    except Rejected as rejection:
        return pages.message(settings, "There is no such facilitator", str(rejection), status_code=404)
    return pages.lead_facilitator(settings, view, base=base, values=values, errors=errors, status_code=status_code)


@router.get("/lead/{lead_id}/{signature}/facilitators/{facilitator_id}", response_class=HTMLResponse)
async def lead_facilitator(link: LeadLink, facilitator_id: UUID, runtime: Runtime, settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        lead = await _lead(uow, link)
        return await _lead_facilitator_page(
            uow, lead, facilitator_id, settings=settings, base=link.base, values={}, errors=[]
        )


async def _change_facilitator(
    uow: UnitOfWork, lead: RegionalLead, facilitator_id: UUID, *, values: Mapping[str, str], settings: Settings
) -> str | forms.Errors:
    """One of the register page's three forms: the done message's key, or the form's errors."""
    if values.get("form") == "link":
        await registry.renew_facilitator_link(uow, lead=lead, facilitator_id=facilitator_id, settings=settings)
        return "new_link"
    if values.get("form") == "accreditation":
        accreditation = forms.parse_accreditation(values, today=today(settings))
        if isinstance(accreditation, list):
            return accreditation
        await registry.record_accreditation(uow, lead=lead, facilitator_id=facilitator_id, accreditation=accreditation)
        return "accredited"
    status = forms.parse_status(values)
    if isinstance(status, list):
        return status
    await registry.change_status(
        uow, lead=lead, facilitator_id=facilitator_id, status=status, settings=settings, now=now()
    )
    return "status"


@router.post(
    "/lead/{lead_id}/{signature}/facilitators/{facilitator_id}", response_class=HTMLResponse, response_model=None
)
async def update_facilitator(
    link: LeadLink, facilitator_id: UUID, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse | RedirectResponse:
    values, _ = await form_values(request)
    async with runtime.uow() as uow:
        lead = await _lead(uow, link)
        try:
            changed = await _change_facilitator(uow, lead, facilitator_id, values=values, settings=settings)
            if isinstance(changed, str):
                await uow.commit()
                return redirect(link.base, done=changed)
            errors = changed
        except Rejected as rejection:
            errors = [("status-1" if values.get("form") != "accreditation" else "score", str(rejection))]
        await reset(uow, lead)
        return await _lead_facilitator_page(
            uow, lead, facilitator_id, settings=settings, base=link.base, values=values, errors=errors, status_code=400
        )


@router.get("/lead/{lead_id}/{signature}/callouts/new", response_class=HTMLResponse)
async def new_callout_form(link: LeadLink, runtime: Runtime, settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        await _lead(uow, link)
    return pages.new_callout(settings, base=link.base, values={}, errors=[])


@router.post("/lead/{lead_id}/{signature}/callouts/new", response_class=HTMLResponse, response_model=None)
async def publish_callout(
    link: LeadLink, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse | RedirectResponse:
    values, _ = await form_values(request)
    async with runtime.uow() as uow:
        lead = await _lead(uow, link)
        parsed = forms.parse_callout(values, today=today(settings))
        if isinstance(parsed, forms.CalloutInput):
            callout = await community.publish_callout(uow, lead=lead, details=parsed)
            await uow.commit()
            return redirect(f"{link.base}/callouts/{callout.id}", done="callout")
    return pages.new_callout(settings, base=link.base, values=values, errors=parsed, status_code=400)


@router.get("/lead/{lead_id}/{signature}/callouts/{callout_id}", response_class=HTMLResponse)
async def lead_callout(
    link: LeadLink, callout_id: UUID, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse:
    async with runtime.uow() as uow:
        lead = await _lead(uow, link)
        view = await community.lead_callout(uow, lead=lead, callout_id=callout_id, settings=settings)
        if view is None:
            return pages.no_such(settings, "call-out", "regional lead")
        return pages.lead_callout(settings, view, base=link.base, done=request.query_params.get("done"))


@router.get("/lead/{lead_id}/{signature}/cpd/new", response_class=HTMLResponse)
async def new_cpd_form(link: LeadLink, runtime: Runtime, settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        await _lead(uow, link)
    return pages.new_cpd_event(settings, base=link.base, values={}, errors=[])


@router.post("/lead/{lead_id}/{signature}/cpd/new", response_class=HTMLResponse, response_model=None)
async def publish_cpd(
    link: LeadLink, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse | RedirectResponse:
    values, _ = await form_values(request)
    async with runtime.uow() as uow:
        lead = await _lead(uow, link)
        parsed = forms.parse_cpd_event(values, today=today(settings))
        errors = parsed if isinstance(parsed, list) else []
        if isinstance(parsed, forms.CpdEventInput):
            try:
                event = await community.publish_cpd_event(uow, lead=lead, details=parsed, settings=settings)
                await uow.commit()
                return redirect(f"{link.base}/cpd/{event.id}", done="cpd")
            except Rejected as rejection:
                errors = [("start", str(rejection))]
    return pages.new_cpd_event(settings, base=link.base, values=values, errors=errors, status_code=400)


async def _lead_cpd_page(
    uow: UnitOfWork,
    lead: RegionalLead,
    event_id: UUID,
    *,
    settings: Settings,
    base: str,
    done: str | None,
    errors: forms.Errors,
    status_code: int = 200,
) -> HTMLResponse:
    view = await community.lead_cpd_event(uow, lead=lead, event_id=event_id)
    if view is None:
        return pages.no_such(settings, "CPD event", "regional lead")
    return pages.lead_cpd_event(settings, view, base=base, done=done, errors=errors, now=now(), status_code=status_code)


@router.get("/lead/{lead_id}/{signature}/cpd/{event_id}", response_class=HTMLResponse)
async def lead_cpd(
    link: LeadLink, event_id: UUID, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse:
    async with runtime.uow() as uow:
        lead = await _lead(uow, link)
        return await _lead_cpd_page(
            uow, lead, event_id, settings=settings, base=link.base, done=request.query_params.get("done"), errors=[]
        )


@router.post("/lead/{lead_id}/{signature}/cpd/{event_id}", response_class=HTMLResponse, response_model=None)
async def record_attendance(
    link: LeadLink, event_id: UUID, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse | RedirectResponse:
    _, multi = await form_values(request)
    async with runtime.uow() as uow:
        lead = await _lead(uow, link)
        registered = await community.registered_for(uow, event_id=event_id)
        attended = forms.parse_attendance(multi, registered=registered)
        try:
            await community.record_attendance(uow, lead=lead, event_id=event_id, attended=attended)
            await uow.commit()
        except Rejected as rejection:
            return await _lead_cpd_page(
                uow,
                lead,
                event_id,
                settings=settings,
                base=link.base,
                done=None,
                errors=[("attendance", str(rejection))],
                status_code=404,
            )
    return redirect(f"{link.base}/cpd/{event_id}", done="attendance")
