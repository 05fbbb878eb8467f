"""Builds the invitations service: runtime, Kafka handlers, background jobs, HTTP routes."""

from fastapi import FastAPI

from invitations import handlers, jobs, web
from invitations.config import Settings
from shared.service import ServiceRuntime


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # type: ignore[call-arg]
    runtime = ServiceRuntime(settings)
    handlers.register(runtime, settings)
    jobs.register(runtime, settings)
    app = runtime.http_app(web.router, title="hlm360 invitations")
    web.install(app)
    app.state.settings = settings
    return app
