"""Builds the scheduling service: runtime, Kafka handlers, background jobs, HTTP routes."""

from fastapi import FastAPI

from scheduling import handlers, jobs
from scheduling.config import Settings
from scheduling.web import api, deps, facilitator, lead, participant
from shared.service import ServiceRuntime


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # type: ignore[call-arg]
    runtime = ServiceRuntime(settings)
    handlers.register(runtime, settings)
    jobs.register(runtime, settings)
    app = runtime.http_app(api.router, participant.router, facilitator.router, lead.router, title="hlm360 scheduling")
    app.add_exception_handler(deps.LinkNotRecognised, deps.link_not_recognised)
    app.add_exception_handler(deps.LinkExpired, deps.link_expired)
    app.state.settings = settings
    return app
