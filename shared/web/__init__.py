"""Shared web plumbing for services with pages: NHS.UK templates and assets, security headers,
and a small rate limiter for guessable URLs."""

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
    """Sliding-window limit per key (e.g. client address) for endpoints that take guessable input."""

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


@dataclass(frozen=True)
class NewLinkLimits:
    """How often an expired personal link may ask for a new one (docs/adr/0016): per client address
    (beyond it, 429) and per link (beyond it, the same answer as ever and nothing sent, so the person
    on record is never flooded and the answer never says whether anything went)."""

    per_client: RateLimiter
    per_link: RateLimiter

    @classmethod
    def per_hour_and_day(cls, *, per_client: int, per_link: int) -> NewLinkLimits:
        return cls(
            per_client=RateLimiter(limit=per_client, window_seconds=3600),
            per_link=RateLimiter(limit=per_link, window_seconds=86400),
        )


def new_link_limits(request: Request) -> NewLinkLimits:
    """A FastAPI dependency: the app's limits on asking for a new link, made on first use from its
    settings (`new_links_per_client_per_hour`, `new_links_per_link_per_day`)."""
    state = request.app.state
    if getattr(state, "new_link_limits", None) is None:
        settings = state.settings
        state.new_link_limits = NewLinkLimits.per_hour_and_day(
            per_client=settings.new_links_per_client_per_hour, per_link=settings.new_links_per_link_per_day
        )
    limits: NewLinkLimits = state.new_link_limits
    return limits
