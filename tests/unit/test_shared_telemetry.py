"""Spans leave a service with ids only (ADR 17): no signed-link token, email, name or free text in an
attribute, event or status, whatever the instrumentations record."""

from collections.abc import Iterator

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision

from ratings.config import Settings as RatingsSettings
from ratings.main import create_app
from shared.telemetry import ATTR_CYCLE_ID, IdsOnlyExporter, NoOrphanClientSpans, build_tracer_provider

TOKEN = "eyJjIjoiMTIzNCJ9.c2lnbmF0dXJlLW9mLWEtcmF0ZXItbGluaw"
EMAIL = "jane.okafor@example.nhs.uk"
NAME = "Jane Okafor"
COMMENT = "Listens carefully"
CYCLE_ID = "0b0c7c1e-3a52-4a8e-9d55-6d1f1b0b8d21"


def everything_in(span: object) -> str:
    """The span as the OTLP exporter would see it: name, attributes, events, links, status."""
    parts = [getattr(span, "name", ""), str(dict(getattr(span, "attributes", None) or {}))]
    parts += [f"{e.name} {dict(e.attributes or {})}" for e in getattr(span, "events", ())]
    parts += [str(dict(link.attributes or {})) for link in getattr(span, "links", ())]
    parts.append(str(getattr(span, "status", None) and span.status.description))  # type: ignore[attr-defined]
    return " ".join(parts)


@pytest.fixture
def exported() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = build_tracer_provider("unit", otlp_endpoint=None, exporter=exporter)
    yield provider, exporter
    exporter.shutdown()


async def test_a_rater_request_is_traced_by_its_route_template_without_token_email_or_text() -> None:
    settings = RatingsSettings(database_url="postgresql+asyncpg://u:pw@127.0.0.1:1/d")  # type: ignore[arg-type]
    app = create_app(settings)  # not started: the request fails inside, the server span is still made
    exporter = InMemorySpanExporter()
    app.state.runtime.tracer_provider.add_span_processor(SimpleSpanProcessor(IdsOnlyExporter(exporter)))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("198.51.100.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await client.post(
            f"/r/{TOKEN}/check?email={EMAIL}",
            data={"comment": COMMENT, "name": NAME},
            headers={"User-Agent": NAME, "Referer": f"http://testserver/r/{TOKEN}"},
        )
        await client.get("/healthz")
    spans = exporter.get_finished_spans()
    [server] = [s for s in spans if s.kind is trace.SpanKind.SERVER]
    assert server.name == "POST /r/{token}/check"
    assert server.attributes is not None and server.attributes["http.route"] == "/r/{token}/check"
    for span in spans:
        text = everything_in(span)
        for secret in (TOKEN, EMAIL, "@", NAME, "Okafor", COMMENT, "198.51.100.7"):
            assert secret not in text, f"{secret!r} leaked into span {span.name!r}"
    assert not any("healthz" in s.name for s in spans), "probes are not traced"


def test_only_allowed_attributes_leave_and_kafka_keys_become_text(
    exported: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = exported
    tracer = provider.get_tracer(__name__)
    with tracer.start_as_current_span("hlm360.cycle-opened.v1 process", kind=trace.SpanKind.CONSUMER) as span:
        span.set_attribute("messaging.kafka.message.key", CYCLE_ID.encode())
        span.set_attribute(ATTR_CYCLE_ID, CYCLE_ID)
        span.set_attribute("db.statement", f"SELECT * FROM rater WHERE email = '{EMAIL}'")
        span.set_attribute("url.path", f"/r/{TOKEN}")
        span.set_attribute("http.target", f"/p/{CYCLE_ID}/{TOKEN}")
        span.set_attribute("client.address", "198.51.100.7")
        span.record_exception(ValueError(f"no rater {EMAIL} named {NAME}"))
        span.set_status(trace.StatusCode.ERROR, f"ValueError: no rater {EMAIL}")
    [sent] = exporter.get_finished_spans()
    assert dict(sent.attributes or {}) == {"messaging.kafka.message.key": CYCLE_ID, ATTR_CYCLE_ID: CYCLE_ID}
    [event] = sent.events
    assert dict(event.attributes or {}) == {"exception.type": "ValueError", "exception.escaped": "False"}
    assert sent.status.status_code is trace.StatusCode.ERROR and not sent.status.description


def test_sql_and_outgoing_calls_outside_any_request_message_or_job_are_not_traced() -> None:
    sampler = NoOrphanClientSpans()
    polled = sampler.should_sample(None, 1, "SELECT invitations", kind=trace.SpanKind.CLIENT)
    request = sampler.should_sample(None, 1, "POST /api/cycles", kind=trace.SpanKind.SERVER)
    assert polled.decision is Decision.DROP
    assert request.decision is Decision.RECORD_AND_SAMPLE
