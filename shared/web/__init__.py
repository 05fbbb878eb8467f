"""Shared web plumbing for services with pages: NHS.UK templates and assets, security headers, the
limits on asking for a new link, and an in-process rate limiter for the app without a database."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from shared.questionnaire import ItemBank
from shared.ratelimit import Counters, Limit

STATIC_DIR = Path(__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def page_templates(package: str) -> Environment:
    """Templates of a service, able to extend `layout.html` and import `nhsuk.html` macros."""
    return Environment(
        loader=ChoiceLoader([PackageLoader(package, "templates"), PackageLoader("shared.web", "templates")]),
        autoescape=select_autoescape(default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeaders(BaseHTTPMiddleware):
    """Strict CSP; no Referer (personal link tokens are in URLs); pages never cached; HSTS when the
    service is reached over https (`hsts`: its public base URL is https)."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        super().__init__(app)
        self.hsts = hsts

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        if self.hsts:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if not request.url.path.startswith("/assets/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def mount_assets(app: FastAPI) -> None:
    if not (STATIC_DIR / "nhsuk-frontend.min.css").exists():
        raise RuntimeError(f"NHS.UK assets are not built in {STATIC_DIR}: run `make assets`")
    app.mount("/assets", StaticFiles(directory=STATIC_DIR), name="assets")


class RateLimiter:
    """Sliding-window limit per key (e.g. client address), held in this process only: for an app
    without a database (the console). Services count in PostgreSQL instead (shared.ratelimit), so
    that a limit holds across their instances."""

    def __init__(self, *, limit: int, window_seconds: float, max_keys: int = 10_000) -> None:
        self._limit = limit
        self._window = window_seconds
        self._hits: OrderedDict[str, list[float]] = OrderedDict()
        self._max_keys = max_keys

    def allow(self, key: str, *, now: float | None = None) -> bool:
        moment = time.monotonic() if now is None else now
        hits = [t for t in self._hits.pop(key, []) if moment - t < self._window]
        allowed = len(hits) < self._limit
        if allowed:
            hits.append(moment)
        self._hits[key] = hits
        while len(self._hits) > self._max_keys:
            self._hits.popitem(last=False)
        return allowed


def client_address(request: Request) -> str:
    """The address a per-client limit counts (the front door's, as the app server was told it)."""
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True)
class NewLinkLimits:
    """How often an expired personal link may ask for a new one (docs/adr/0016): per client address
    (beyond it, 429) and per link (beyond it, the same answer as ever and nothing sent, so the person
    on record is never flooded and the answer never says whether anything went). Counted in the
    service's database, so every instance shares them (docs/adr/0023)."""

    counters: Counters
    per_client: Limit
    per_link: Limit

    async def client_may_ask(self, client: str) -> bool:
        return await self.counters.allow(self.per_client, client)

    async def link_may_send(self, link: str) -> bool:
        return await self.counters.allow(self.per_link, link)


def new_link_limits(request: Request) -> NewLinkLimits:
    """A FastAPI dependency: the app's limits on asking for a new link, from its settings
    (`new_links_per_client_per_hour`, `new_links_per_link_per_day`) and its runtime's counters."""
    state = request.app.state
    settings = state.settings
    return NewLinkLimits(
        counters=state.runtime.counters,
        per_client=Limit.per("new-link-client", hits=settings.new_links_per_client_per_hour, seconds=3600),
        per_link=Limit.per("new-link-link", hits=settings.new_links_per_link_per_day, seconds=86400),
    )


def item_bank_of(request: Request) -> ItemBank:
    """A FastAPI dependency: the item bank the app loaded at start (`app.state.item_bank`)."""
    bank: ItemBank = request.app.state.item_bank
    return bank
