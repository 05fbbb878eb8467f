"""The participant's private view `/p/{cycle_id}/{token}`: progress, changing the deadline, closing
early, nominating someone in place of a rater who declined or bounced."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from invitations import pages
from invitations.config import Settings
from invitations.forms import StartForm, read_date, replacement_name_problem
from invitations.usecases import lifecycle, nominations
from invitations.usecases.dashboard import participant_view, rater_to_replace
from invitations.web.deps import Config, ParticipantLink, ParticipantLinkLimited, Runtime, SignedLink, reading
from shared.errors import Rejected
from shared.service import ServiceRuntime

router = APIRouter()


def _rater_id(rater_id: UUID) -> UUID:
    return rater_id


# a dependency, so the path's parameters keep their order (cycle, token, rater) after the link's
RaterToReplace = Annotated[UUID, Depends(_rater_id)]


async def _dashboard(
    runtime: ServiceRuntime,
    settings: Settings,
    link: SignedLink,
    *,
    errors: list[tuple[str, str]] | None = None,
    values: dict[str, str] | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    async with runtime.uow() as uow:
        try:
            view = await participant_view(uow, link.cycle_id, settings=settings)
        except Rejected:
            return pages.bad_link()
        await uow.commit()  # the participant's own rating link may have been re-keyed (docs/adr/0012)
    return pages.dashboard(view, base=link.base, settings=settings, errors=errors, values=values, notice=notice)


@router.get("/p/{cycle_id}/{token}", response_class=HTMLResponse)
async def dashboard(link: ParticipantLinkLimited, request: Request, runtime: Runtime, settings: Config) -> HTMLResponse:
    notice = pages.DASHBOARD_NOTICES.get(request.query_params.get("done", ""))
    return await _dashboard(runtime, settings, link, notice=notice)


@router.post("/p/{cycle_id}/{token}/deadline", response_class=HTMLResponse, response_model=None)
async def change_deadline(
    link: ParticipantLink, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse | RedirectResponse:
    form = StartForm.submitted(await request.form())
    deadline = read_date(form, prefix="deadline", legend="the new closing date")
    if deadline is not None:
        try:
            async with runtime.uow() as uow:
                await lifecycle.extend_deadline(uow, link.cycle_id, deadline=deadline, settings=settings)
                await uow.commit()
        except Rejected as rejection:
            message = str(rejection)
            form.add("deadline-day", message[0].upper() + message[1:])
    if form.errors:
        return await _dashboard(runtime, settings, link, errors=form.errors, values=form.values)
    return RedirectResponse(f"{link.base}?done=extended", status_code=303)


@router.get("/p/{cycle_id}/{token}/close", response_class=HTMLResponse)
async def close_confirm(link: ParticipantLink) -> HTMLResponse:
    return pages.close(base=link.base)


@router.post("/p/{cycle_id}/{token}/close", response_class=HTMLResponse, response_model=None)
async def close_now(link: ParticipantLink, runtime: Runtime, settings: Config) -> HTMLResponse | RedirectResponse:
    try:
        async with runtime.uow() as uow:
            await lifecycle.request_close(uow, link.cycle_id)
            await uow.commit()
    except Rejected as rejection:
        return await _dashboard(runtime, settings, link, errors=[("close", str(rejection).capitalize())])
    return RedirectResponse(f"{link.base}?done=closing", status_code=303)


async def _replace_page(
    runtime: ServiceRuntime,
    link: SignedLink,
    rater_id: UUID,
    *,
    values: dict[str, str],
    errors: list[tuple[str, str]],
) -> HTMLResponse:
    async with reading(runtime) as uow:
        rater = await rater_to_replace(uow, cycle_id=link.cycle_id, rater_id=rater_id)
    return pages.replace(rater, base=link.base, values=values, errors=errors)


@router.get("/p/{cycle_id}/{token}/replace/{rater_id}", response_class=HTMLResponse)
async def replace_form(link: ParticipantLink, rater_id: RaterToReplace, runtime: Runtime) -> HTMLResponse:
    return await _replace_page(runtime, link, rater_id, values={}, errors=[])


@router.post("/p/{cycle_id}/{token}/replace/{rater_id}", response_class=HTMLResponse, response_model=None)
async def replace_submit(
    link: ParticipantLink, rater_id: RaterToReplace, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse | RedirectResponse:
    values = StartForm.submitted(await request.form()).values
    name, address = values.get("name", ""), values.get("email", "")
    errors = nominations.replacement_problems(name=name, email=address, settings=settings)
    replacement_name_problem(name, errors)
    if not errors:
        try:
            async with runtime.uow() as uow:
                await nominations.replace_rater(
                    uow, cycle_id=link.cycle_id, old_rater_id=rater_id, name=name, email=address, settings=settings
                )
                await uow.commit()
        except Rejected as rejection:
            errors = [("email", str(rejection).capitalize())]
    if errors:
        return await _replace_page(runtime, link, rater_id, values=values, errors=errors)
    return RedirectResponse(f"{link.base}?done=replaced", status_code=303)
