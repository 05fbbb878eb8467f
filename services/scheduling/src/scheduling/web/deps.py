"""FastAPI dependencies shared by the routes: the runtime, the settings, and the signed-link check (one
check for the three kinds of personal link; an expired booking link raises LinkExpired, whose page
offers a new one, docs/adr/0016), plus the small helpers every page route uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from scheduling import pages
from scheduling.config import Settings
from scheduling.links import LinkPurpose, Links, link_path
from scheduling.usecases import registry
from shared.db import UnitOfWork
from shared.links import MAX_EXPIRING_TOKEN, MAX_SIGNATURE, Freshness
from shared.service import ServiceRuntime, runtime_of
from shared.web import NewLinkLimits, new_link_limits

Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Config = Annotated[Settings, Depends(settings_of)]


class LinkNotRecognised(Exception):
    """A personal link whose signature does not verify, or whose facilitator or lead does not exist."""


async def link_not_recognised(request: Request, _: Exception) -> HTMLResponse:
    """Exception handler (installed by main.create_app): the same 404 page for every page kind."""
    return pages.not_recognised(settings_of(request))


class LinkExpired(Exception):
    """A booking link this service signed whose time has passed (410: its page offers a new link)."""

    def __init__(self, cycle_id: UUID, token: str) -> None:
        super().__init__(cycle_id)
        self.cycle_id, self.token = cycle_id, token


async def link_expired(request: Request, exc: Exception) -> HTMLResponse:
    """Exception handler (installed by main.create_app): 410, with a button to email a new link."""
    if not isinstance(exc, LinkExpired):
        return pages.not_recognised(settings_of(request))
    action = link_path(LinkPurpose.BOOKING, exc.cycle_id, exc.token) + "/new-link"
    return pages.link_expired(settings_of(request), action=action)


@dataclass(frozen=True)
class SignedLink:
    """A verified personal link: whose it is (cycle, facilitator or lead id) and the page it opens."""

    id: UUID
    base: str


async def verified_link(
    purpose: LinkPurpose, subject_id: UUID, signature: str, *, settings: Settings, runtime: ServiceRuntime
) -> SignedLink:
    """The signed-link check: the signature over purpose, id and (facilitators, leads) the current link
    version, or (booking) the expiry. Raises LinkNotRecognised for a forged, foreign-purpose or stale
    link, or an unknown person; LinkExpired for a booking link past its expiry."""
    codec = Links(keys=settings.signing_keys(), base_url=settings.base_url)
    if purpose is LinkPurpose.BOOKING:
        booking_link(codec, subject_id, signature, expired_too=False)
        return SignedLink(id=subject_id, base=link_path(purpose, subject_id, signature))
    if len(signature) > MAX_SIGNATURE:
        raise LinkNotRecognised
    async with runtime.uow() as uow:
        version = await registry.link_version(uow, kind=purpose.value, subject_id=subject_id)  # type: ignore[arg-type]
    if version is None or not codec.is_valid(purpose, subject_id, signature, version):
        raise LinkNotRecognised
    return SignedLink(id=subject_id, base=link_path(purpose, subject_id, signature))


def booking_link(codec: Links, cycle_id: UUID, token: str, *, expired_too: bool) -> Freshness:
    """A booking link's check: signed and in date (else LinkNotRecognised, or LinkExpired unless
    `expired_too`, when asking for a new link)."""
    if len(token) > MAX_EXPIRING_TOKEN:
        raise LinkNotRecognised
    freshness = codec.booking_freshness(cycle_id, token, now=now())
    if freshness is Freshness.NOT_RECOGNISED:
        raise LinkNotRecognised
    if freshness is Freshness.EXPIRED and not expired_too:
        raise LinkExpired(cycle_id, token)
    return freshness


# The path parameters differ by page kind (and are validated as UUIDs); the check is the same.
async def _booking_link(cycle_id: UUID, signature: str, settings: Config, runtime: Runtime) -> SignedLink:
    return await verified_link(LinkPurpose.BOOKING, cycle_id, signature, settings=settings, runtime=runtime)


async def _facilitator_link(facilitator_id: UUID, signature: str, settings: Config, runtime: Runtime) -> SignedLink:
    return await verified_link(LinkPurpose.FACILITATOR, facilitator_id, signature, settings=settings, runtime=runtime)


async def _lead_link(lead_id: UUID, signature: str, settings: Config, runtime: Runtime) -> SignedLink:
    return await verified_link(LinkPurpose.LEAD, lead_id, signature, settings=settings, runtime=runtime)


async def _booking_link_any_date(cycle_id: UUID, signature: str, settings: Config) -> SignedLink:
    booking_link(Links(keys=settings.signing_keys(), base_url=settings.base_url), cycle_id, signature, expired_too=True)
    return SignedLink(id=cycle_id, base=link_path(LinkPurpose.BOOKING, cycle_id, signature))


BookingLink = Annotated[SignedLink, Depends(_booking_link)]
BookingLinkAnyDate = Annotated[SignedLink, Depends(_booking_link_any_date)]
NewLinks = Annotated[NewLinkLimits, Depends(new_link_limits)]
FacilitatorLink = Annotated[SignedLink, Depends(_facilitator_link)]
LeadLink = Annotated[SignedLink, Depends(_lead_link)]


def redirect(path: str, *, done: str | None = None) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={done}" if done else path, status_code=303, headers=pages.HEADERS)


async def form_values(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    form = await request.form()
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            single.setdefault(key, value)
            multi.setdefault(key, []).append(value)
    return single, multi


async def reset(uow: UnitOfWork, *loaded: object) -> None:
    """Undo a refused change, then reload what the page still shows (no lazy loads in async code)."""
    await uow.session.rollback()
    for instance in loaded:
        await uow.session.refresh(instance)


def now() -> datetime:
    return datetime.now(UTC)


def today(settings: Settings) -> date:
    return now().astimezone(ZoneInfo(settings.timezone)).date()
