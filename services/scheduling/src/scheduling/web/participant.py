"""The participant's booking page, `/book/{cycle_id}/{signature}`: choose a time (filtered by language),
see the booking, cancel it; and, from an expired link's page, ask for a new link (docs/adr/0016: sent
to the address on record, the same answer whether or not anything was sent; the expired link, signed
by us, is the only credential, no cookie, so another site cannot post it on someone's behalf)."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from scheduling import domain, forms, pages
from scheduling.config import Settings
from scheduling.usecases import booking, participant_view, sessions
from scheduling.usecases.new_links import send_new_booking_link
from scheduling.web.deps import (
    BookingLink,
    BookingLinkAnyDate,
    Config,
    NewLinks,
    Runtime,
    SignedLink,
    form_values,
    now,
    redirect,
)
from shared.db import UnitOfWork
from shared.errors import Rejected
from shared.web import client_address

router = APIRouter(include_in_schema=False)


def language_asked(raw: str | None) -> str | None:
    """The booking page's language filter: a known language, `any`, or nothing (the preferred language)."""
    return raw if raw == domain.ANY_LANGUAGE or raw in domain.LANGUAGE_NAMES else None


async def _booking_page(
    uow: UnitOfWork,
    link: SignedLink,
    *,
    settings: Settings,
    language: str | None,
    errors: forms.Errors,
    values: Mapping[str, str],
    done: str | None,
    status_code: int = 200,
) -> HTMLResponse:
    view = await participant_view.booking_page(uow, cycle_id=link.id, language=language, settings=settings, now=now())
    if view is None:
        return pages.not_bookable_yet(settings)
    return pages.booking(
        settings, view, base=link.base, errors=errors, values=values, done=done, status_code=status_code
    )


@router.get("/book/{cycle_id}/{signature}", response_class=HTMLResponse)
async def booking_page(link: BookingLink, request: Request, runtime: Runtime, settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        return await _booking_page(
            uow,
            link,
            settings=settings,
            language=language_asked(request.query_params.get("language")),
            errors=[],
            values={},
            done=request.query_params.get("done"),
        )


@router.post("/book/{cycle_id}/{signature}", response_class=HTMLResponse, response_model=None)
async def choose_time(
    link: BookingLink, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse | RedirectResponse:
    values, _ = await form_values(request)
    language = language_asked(values.get("language"))
    slot_id = forms.parse_uuid(values.get("slot"))
    async with runtime.uow() as uow:
        error = "Select a time for your feedback session"
        if slot_id is not None:
            try:
                await booking.choose_slot(
                    uow, cycle_id=link.id, slot_id=slot_id, language=language, settings=settings, now=now()
                )
                await uow.commit()
                return redirect(link.base, done="booked")
            except Rejected as rejection:
                error = str(rejection)
        await uow.session.rollback()
        return await _booking_page(
            uow,
            link,
            settings=settings,
            language=language,
            errors=[("slot-1", error)],
            values=values,
            done=None,
            status_code=409 if slot_id else 400,
        )


@router.post("/book/{cycle_id}/{signature}/cancel", response_class=HTMLResponse, response_model=None)
async def participant_cancels(
    link: BookingLink, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse | RedirectResponse:
    values, _ = await form_values(request)
    session_id = forms.parse_uuid(values.get("session_id"))
    async with runtime.uow() as uow:
        try:
            if session_id is None:
                raise Rejected("There is no such session")
            await sessions.cancel_session(
                uow, session_id=session_id, by="participant", settings=settings, now=now(), cycle_id=link.id
            )
            await uow.commit()
        except Rejected as rejection:
            await uow.session.rollback()
            return await _booking_page(
                uow,
                link,
                settings=settings,
                language=None,
                errors=[("cancel", str(rejection))],
                values={},
                done=None,
                status_code=409,
            )
    return redirect(link.base, done="cancelled")


@router.post("/book/{cycle_id}/{signature}/new-link", response_class=HTMLResponse)
async def new_booking_link(
    link: BookingLinkAnyDate, request: Request, runtime: Runtime, settings: Config, limits: NewLinks
) -> HTMLResponse:
    if not await limits.client_may_ask(client_address(request)):
        return pages.message(settings, "Try again later", "Too many new links have been asked for.", status_code=429)
    if await limits.link_may_send(str(link.id)):
        async with runtime.uow() as uow:
            await send_new_booking_link(uow, cycle_id=link.id, settings=settings, now=now())
            await uow.commit()
    return pages.new_link_asked(settings)
