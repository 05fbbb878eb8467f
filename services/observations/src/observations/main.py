"""Builds the observations service: item bank, runtime, jobs, HTTP routes. It consumes no events
and emits none yet (no observation text ever goes on Kafka)."""

from fastapi import FastAPI

from observations import handlers, jobs, web
from observations.config import Settings
from shared.questionnaire import load_item_bank
from shared.service import ServiceRuntime


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # type: ignore[call-arg]
    # Refuse to start with a bank that fails validation: the dimension and level wording comes from it.
    bank = load_item_bank(settings.item_bank_path)
    runtime = ServiceRuntime(settings)
    handlers.register(runtime)
    jobs.register(runtime, settings)
    app = runtime.http_app(web.router, title="hlm360 observations")
    app.state.settings = settings
    app.state.item_bank = bank
    return app
