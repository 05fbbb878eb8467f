"""Builds the operator console: the lifecycle feed from Kafka, the routes (pages under `/console`;
`/healthz`, `/metrics` and `/assets` where every service has them), the NHS.UK layout and the same
security headers, body limit and error answers as the services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from console.config import ConsoleSettings, Settings
from console.deadletters import DeadLetters
from console.lifecycle import LifecycleFeed
from console.pages import SIGN_IN
from console.pipeline import Pipeline
from console.web import deadletters, overview, signin
from console.web.deps import SignInFirst
from shared.messaging import client_options
from shared.web import SecurityHeaders, mount_assets
from shared.web.errors import install_error_handlers
from shared.web.limits import BodySizeLimit


def create_app(
    settings: ConsoleSettings | None = None, *, kafka: Settings | None = None, feed: LifecycleFeed | None = None
) -> FastAPI:
    """`settings`: the web console's (`CONSOLE_`); `kafka`: the operators' login (`HLM360_`)."""
    settings = settings or ConsoleSettings()  # type: ignore[call-arg]
    kafka = kafka or Settings()
    feed = feed or LifecycleFeed(kafka, Pipeline())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        feed.start()
        try:
            yield
        finally:
            await feed.stop()

    app = FastAPI(title="hlm360 operator console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings, app.state.feed = settings, feed
    app.state.dead_letters = DeadLetters(
        client_options(kafka), read_timeout_seconds=kafka.read_timeout_seconds, batch_size=kafka.replay_batch_size
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.http_max_body_bytes)
    app.add_middleware(SecurityHeaders, hsts=settings.on_https)
    install_error_handlers(app)
    mount_assets(app)

    @app.exception_handler(SignInFirst)
    async def sign_in_first(_: Request, __: SignInFirst) -> Response:
        return RedirectResponse(SIGN_IN, status_code=303)

    registry = CollectorRegistry()
    events = Gauge("hlm360_console_lifecycle_events", "Lifecycle events the console has read.", registry=registry)
    caught_up = Gauge(
        "hlm360_console_caught_up", "1 once the console has read the lifecycle topics.", registry=registry
    )

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        events.set(feed.pipeline.events_seen)
        caught_up.set(1 if feed.caught_up.is_set() else 0)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return Response("ok")

    app.include_router(signin.router)
    app.include_router(overview.router)
    app.include_router(deadletters.router)
    return app
