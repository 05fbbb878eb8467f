"""The facilitator's pages, `/facilitator/{facilitator_id}/{signature}`: sessions (confirm, decline,
move, cancel, completed, no-show), free times, availability, call-outs, CPD events, interest form."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from scheduling import forms, pages
from scheduling.config import Settings
from scheduling.usecases import community, directory, registry, sessions
from scheduling.web.deps import (
    Config,
    FacilitatorLink,
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
from shared.service import ServiceRuntime

if TYPE_CHECKING:
    from scheduling.tables import Facilitator

router = APIRouter(include_in_schema=False)

SessionAction = Literal["confirm", "decline", "cancel", "completed", "no_show"]
ACTION_DONE = {
    "confirm": "confirmed",
    "decline": "declined",
    "cancel": "cancelled",
    "completed": "completed",
    "no_show": "no_show",
}


async def _facilitator(uow: UnitOfWork, link: SignedLink) -> Facilitator:
    facilitator = await registry.facilitator_of(uow, facilitator_id=link.id)
    if facilitator is None:
        raise LinkNotRecognised
    return facilitator


async def _home(
    uow: UnitOfWork,
    facilitator: Facilitator,
    *,
    settings: Settings,
    base: str,
    errors: forms.Errors,
    done: str | None,
    status_code: int = 200,
) -> HTMLResponse:
    moment = now()
    home = await sessions.facilitator_home(uow, facilitator=facilitator, today=today(settings), now=moment)
    return pages.facilitator_home(
        settings, facilitator, home, base=base, now=moment, errors=errors, done=done, status_code=status_code
    )


async def _act_from_home(
    link: SignedLink,
    runtime: ServiceRuntime,
    settings: Settings,
    act: Callable[[UnitOfWork, Facilitator], Awaitable[object]],
    *,
    field: str,
    done: str,
) -> HTMLResponse | RedirectResponse:
    """One action from the home page: done, back home with `done`; refused, the home page again with
    the refusal next to `field` (409)."""
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        try:
            await act(uow, facilitator)
            await uow.commit()
        except Rejected as rejection:
            await reset(uow, facilitator)
            return await _home(
                uow,
                facilitator,
                settings=settings,
                base=link.base,
                errors=[(field, str(rejection))],
                done=None,
                status_code=409,
            )
    return redirect(link.base, done=done)


@router.get("/facilitator/{facilitator_id}/{signature}", response_class=HTMLResponse)
async def facilitator_page(link: FacilitatorLink, request: Request, runtime: Runtime, settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        return await _home(
            uow, facilitator, settings=settings, base=request.url.path, errors=[], done=request.query_params.get("done")
        )


async def _act_on_session(
    uow: UnitOfWork, facilitator: Facilitator, *, session_id: UUID, action: str, settings: Settings
) -> None:
    if action == "confirm":
        await sessions.confirm_session(
            uow, facilitator_id=facilitator.id, session_id=session_id, settings=settings, now=now()
        )
    elif action in ("decline", "cancel"):
        await sessions.cancel_session(
            uow, session_id=session_id, by="facilitator", settings=settings, now=now(), facilitator_id=facilitator.id
        )
    elif action in ("completed", "no_show"):
        await sessions.record_outcome(
            uow,
            facilitator_id=facilitator.id,
            session_id=session_id,
            outcome=action,  # type: ignore[arg-type]
            now=now(),
        )
    else:
        raise Rejected("Choose what to do with the session")


@router.post(
    "/facilitator/{facilitator_id}/{signature}/sessions/{session_id}", response_class=HTMLResponse, response_model=None
)
async def session_action(
    link: FacilitatorLink, session_id: UUID, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse | RedirectResponse:
    values, _ = await form_values(request)
    action = values.get("action", "")

    async def act(uow: UnitOfWork, facilitator: Facilitator) -> None:
        await _act_on_session(uow, facilitator, session_id=session_id, action=action, settings=settings)

    return await _act_from_home(
        link, runtime, settings, act, field=f"session-{session_id}", done=ACTION_DONE.get(action, "")
    )


async def _reschedule_page(
    uow: UnitOfWork,
    facilitator: Facilitator,
    session_id: UUID,
    *,
    settings: Settings,
    base: str,
    errors: forms.Errors,
    status_code: int = 200,
) -> HTMLResponse:
    choices = await sessions.reschedule_choices(
        uow, facilitator=facilitator, session_id=session_id, settings=settings, now=now()
    )
    if choices is None:
        return pages.no_such(settings, "session", "facilitator")
    return pages.reschedule(settings, choices, base=base, errors=errors, status_code=status_code)


@router.get("/facilitator/{facilitator_id}/{signature}/sessions/{session_id}/reschedule", response_class=HTMLResponse)
async def reschedule_form(link: FacilitatorLink, session_id: UUID, runtime: Runtime, settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        return await _reschedule_page(uow, facilitator, session_id, settings=settings, base=link.base, errors=[])


@router.post(
    "/facilitator/{facilitator_id}/{signature}/sessions/{session_id}/reschedule",
    response_class=HTMLResponse,
    response_model=None,
)
async def reschedule(
    link: FacilitatorLink, session_id: UUID, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse | RedirectResponse:
    values, _ = await form_values(request)
    slot_id = forms.parse_uuid(values.get("slot"))
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        try:
            if slot_id is None:
                raise Rejected("Select the new time")
            await sessions.reschedule_session(
                uow,
                session_id=session_id,
                slot_id=slot_id,
                by="facilitator",
                settings=settings,
                now=now(),
                facilitator_id=facilitator.id,
            )
            await uow.commit()
        except Rejected as rejection:
            await reset(uow, facilitator)
            return await _reschedule_page(
                uow,
                facilitator,
                session_id,
                settings=settings,
                base=link.base,
                errors=[("slot-1", str(rejection))],
                status_code=409,
            )
    return redirect(link.base, done="rescheduled")


@router.get("/facilitator/{facilitator_id}/{signature}/availability", response_class=HTMLResponse)
async def availability_form(link: FacilitatorLink, runtime: Runtime, settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        return pages.availability(
            settings, facilitator, base=link.base, values={"weeks": "1", "minutes": "120"}, errors=[]
        )


@router.post("/facilitator/{facilitator_id}/{signature}/availability", response_class=HTMLResponse, response_model=None)
async def publish_availability(
    link: FacilitatorLink, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse | RedirectResponse:
    values, _ = await form_values(request)
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        parsed = forms.parse_availability(values, today=now().astimezone(ZoneInfo(facilitator.timezone)).date())
        errors = parsed if isinstance(parsed, list) else []
        if isinstance(parsed, forms.AvailabilityInput):
            try:
                await directory.publish_slots(uow, facilitator=facilitator, availability=parsed, now=now())
                await uow.commit()
                return redirect(link.base, done="published")
            except Rejected as rejection:
                await reset(uow, facilitator)
                errors = [("start", str(rejection))]
        return pages.availability(settings, facilitator, base=link.base, values=values, errors=errors, status_code=400)


@router.post(
    "/facilitator/{facilitator_id}/{signature}/slots/{slot_id}/remove", response_class=HTMLResponse, response_model=None
)
async def remove_slot(
    link: FacilitatorLink, slot_id: UUID, runtime: Runtime, settings: Config
) -> HTMLResponse | RedirectResponse:
    async def act(uow: UnitOfWork, facilitator: Facilitator) -> None:
        await directory.remove_slot(uow, facilitator=facilitator, slot_id=slot_id, now=now())

    return await _act_from_home(link, runtime, settings, act, field=f"slot-{slot_id}", done="removed")


async def _callout_page(
    uow: UnitOfWork,
    facilitator: Facilitator,
    callout_id: UUID,
    *,
    settings: Settings,
    base: str,
    values: Mapping[str, str],
    errors: forms.Errors,
    status_code: int = 200,
) -> HTMLResponse:
    offer = await community.callout_offer(uow, facilitator=facilitator, callout_id=callout_id)
    if offer is None:
        return pages.no_such(settings, "call-out", "facilitator")
    return pages.callout(settings, offer, base=base, values=values, errors=errors, status_code=status_code)


@router.get("/facilitator/{facilitator_id}/{signature}/callouts/{callout_id}", response_class=HTMLResponse)
async def callout_page(link: FacilitatorLink, callout_id: UUID, runtime: Runtime, settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        return await _callout_page(
            uow, facilitator, callout_id, settings=settings, base=link.base, values={}, errors=[]
        )


@router.post(
    "/facilitator/{facilitator_id}/{signature}/callouts/{callout_id}", response_class=HTMLResponse, response_model=None
)
async def volunteer(
    link: FacilitatorLink, callout_id: UUID, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse | RedirectResponse:
    values, _ = await form_values(request)
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        parsed = forms.parse_volunteer(values)
        errors = parsed if isinstance(parsed, list) else []
        if isinstance(parsed, int):
            try:
                await community.volunteer(
                    uow, facilitator=facilitator, callout_id=callout_id, sessions=parsed, now=now(), settings=settings
                )
                await uow.commit()
                return redirect(link.base, done="volunteered")
            except Rejected as rejection:
                await reset(uow, facilitator)
                errors = [("sessions", str(rejection))]
        return await _callout_page(
            uow,
            facilitator,
            callout_id,
            settings=settings,
            base=link.base,
            values=values,
            errors=errors,
            status_code=400,
        )


@router.post(
    "/facilitator/{facilitator_id}/{signature}/cpd/{event_id}", response_class=HTMLResponse, response_model=None
)
async def register_for_cpd(
    link: FacilitatorLink, event_id: UUID, runtime: Runtime, settings: Config
) -> HTMLResponse | RedirectResponse:
    async def act(uow: UnitOfWork, facilitator: Facilitator) -> None:
        await community.register_for_cpd(uow, facilitator=facilitator, event_id=event_id, now=now())

    return await _act_from_home(link, runtime, settings, act, field=f"cpd-{event_id}", done="registered")


@router.get("/facilitator/{facilitator_id}/{signature}/interest", response_class=HTMLResponse)
async def interest_form(link: FacilitatorLink, runtime: Runtime, settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        await _facilitator(uow, link)
    return pages.interest(settings, base=link.base, values={}, chosen_months=[], errors=[])


@router.post("/facilitator/{facilitator_id}/{signature}/interest", response_class=HTMLResponse, response_model=None)
async def express_interest(
    link: FacilitatorLink, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse | RedirectResponse:
    values, multi = await form_values(request)
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        parsed = forms.parse_interest(values, multi.get("months", []))
        if isinstance(parsed, forms.InterestInput):
            await community.express_interest(uow, facilitator=facilitator, interest=parsed)
            await uow.commit()
            return redirect(link.base, done="interest")
    return pages.interest(
        settings, base=link.base, values=values, chosen_months=multi.get("months", []), errors=parsed, status_code=400
    )
