"""Server spans for a service's HTTP app: one span per request, named by its route template
(`POST /r/{token}`, never the path, which may hold a signed link's token). What else the
instrumentation records leaves the process through shared.telemetry's allow-list (ADR 17)."""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.trace import TracerProvider

# Probes and static files: no trace for them (they would crowd out the cycles' traces).
UNTRACED_URLS = r"/healthz$,/metrics$,/assets/"


def instrument_app(app: FastAPI, tracer_provider: TracerProvider) -> None:
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=tracer_provider,
        meter_provider=NoOpMeterProvider(),  # request metrics come from shared.metrics (Prometheus)
        excluded_urls=UNTRACED_URLS,
        exclude_spans=["receive", "send"],
    )
