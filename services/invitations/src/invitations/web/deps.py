"""FastAPI dependencies the routes share: the runtime, the settings, a read-only unit of work, and
the signed-link check (with the rate limit on the pages people open from an email; an expired link
raises LinkExpired, whose page offers a new one, docs/adr/0016)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Request

from invitations.config import Settings
from invitations.links import APPROVAL, CONFIRM, PARTICIPANT, token_freshness
from invitations.usecases import allowance
from shared.db import UnitOfWork
from shared.links import Freshness
from shared.ratelimit import Limit
from shared.service import ServiceRuntime, runtime_of
from shared.web import NewLinkLimits, client_address, new_link_limits

# Opening the pages people reach from an email, per client address, valid link or not.
LINK_PAGES = Limit.per("link-pages", hits=120, seconds=60)

Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Config = Annotated[Settings, Depends(settings_of)]


@asynccontextmanager
async def reading(runtime: ServiceRuntime) -> AsyncIterator[UnitOfWork]:
    """A read-only unit of work whose rows stay usable after it ends (pages render from them)."""
    async with runtime.uow() as uow:
        yield uow
        uow.session.expunge_all()


class BadLink(Exception):
    """A signed link that does not verify (404) or too many tries from one address (429)."""

    def __init__(self, status_code: int = 404) -> None:
        super().__init__(status_code)
        self.status_code = status_code


class LinkExpired(Exception):
    """A link this service signed whose time has passed (410: its page offers a new link)."""

    def __init__(self, purpose: str, cycle_id: UUID, token: str) -> None:
        super().__init__(purpose)
        self.purpose, self.cycle_id, self.token = purpose, cycle_id, token


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SignedLink:
    """A verified personal link: the 360 it is for, and its token (to build the page's own links)."""

    cycle_id: UUID
    token: str

    @property
    def base(self) -> str:
        return f"/p/{self.cycle_id}/{self.token}"


def signed_link(
    purpose: str, *, rate_limited: bool = False, expired_too: bool = False
) -> Callable[..., Coroutine[Any, Any, SignedLink]]:
    """A dependency that lets the route run only for a link signed for `purpose` and in date (else
    BadLink, or LinkExpired); `expired_too`: an expired one as well (asking for a new link)."""

    async def check(cycle_id: UUID, token: str, request: Request, settings: Config, runtime: Runtime) -> SignedLink:
        if rate_limited and not await runtime.counters.allow(LINK_PAGES, client_of(request)):
            raise BadLink(429)
        freshness = token_freshness(settings.signing_keys(), purpose, cycle_id, token, now=now())
        if freshness is Freshness.EXPIRED and not expired_too:
            raise LinkExpired(purpose, cycle_id, token)
        if freshness is Freshness.NOT_RECOGNISED:
            raise BadLink()
        return SignedLink(cycle_id=cycle_id, token=token)

    return check


ParticipantLink = Annotated[SignedLink, Depends(signed_link(PARTICIPANT))]
ParticipantLinkLimited = Annotated[SignedLink, Depends(signed_link(PARTICIPANT, rate_limited=True))]
ApprovalLink = Annotated[SignedLink, Depends(signed_link(APPROVAL))]
ApprovalLinkLimited = Annotated[SignedLink, Depends(signed_link(APPROVAL, rate_limited=True))]
ConfirmLink = Annotated[SignedLink, Depends(signed_link(CONFIRM, rate_limited=True))]
ParticipantLinkAnyDate = Annotated[SignedLink, Depends(signed_link(PARTICIPANT, expired_too=True))]
ApprovalLinkAnyDate = Annotated[SignedLink, Depends(signed_link(APPROVAL, expired_too=True))]


TOO_MANY_REQUESTS = "Too many 360s have been asked for recently; try again later"


@dataclass(frozen=True)
class PublicLimits:
    """How often the public routes may ask for a 360: per client address and per participant,
    counted in PostgreSQL so that every instance shares the count (usecases.allowance, docs/adr/0023)."""

    runtime: ServiceRuntime
    settings: Settings

    async def allow(self, *, client: str, participant_email: str) -> bool:
        """Counts one request (a refused try counts too)."""
        return await allowance.may_ask(
            self.runtime.counters, client=client, participant_email=participant_email, settings=self.settings
        )


def public_limits(runtime: Runtime, settings: Config) -> PublicLimits:
    return PublicLimits(runtime=runtime, settings=settings)


def client_of(request: Request) -> str:
    return client_address(request)


Limits = Annotated[PublicLimits, Depends(public_limits)]


NewLinks = Annotated[NewLinkLimits, Depends(new_link_limits)]
