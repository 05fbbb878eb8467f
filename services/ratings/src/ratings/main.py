"""Builds the ratings service: item bank, runtime, Kafka handlers, the closing job, HTTP routes."""

from fastapi import FastAPI

from ratings import handlers, jobs, web
from ratings.config import Settings
from shared.questionnaire import load_item_bank
from shared.service import ServiceRuntime


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # type: ignore[call-arg]
    # Refuse to start with a bank that fails validation, rather than fail in front of a rater.
    bank = load_item_bank(settings.item_bank_path)
    runtime = ServiceRuntime(settings)
    handlers.register(runtime)
    jobs.register(runtime, settings)
    app = runtime.http_app(web.router, title="hlm360 ratings")
    app.state.settings = settings
    app.state.item_bank = bank
    return app
