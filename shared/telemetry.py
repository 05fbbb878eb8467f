"""OpenTelemetry tracing: one provider per service process, spans written as JSON lines.

The span file is the local stand-in for a collector; an OTLP exporter can be added in deploy
without touching services. Trace context crosses Kafka in W3C `traceparent` headers, also
through the outbox (the context is stored with the row when the event is written).
"""

import json
import threading
from collections.abc import Sequence
from pathlib import Path

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

# Custom span attributes (catalogue; never names, emails or free text):
ATTR_CYCLE_ID = "hlm360.cycle_id"
ATTR_EVENT_TYPE = "hlm360.event_type"
ATTR_EVENT_ID = "hlm360.event_id"
ATTR_OUTBOX_BATCH = "hlm360.outbox.batch_size"
ATTR_EMAIL_ID = "hlm360.email.id"
ATTR_EMAIL_KIND = "hlm360.email.kind"


class JsonLinesSpanExporter(SpanExporter):
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = [json.dumps(span_record(span), default=str) for span in spans]
        with self._lock, self._path.open("a", encoding="utf-8") as out:
            out.writelines(line + "\n" for line in lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def _plain(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def span_record(span: ReadableSpan) -> dict[str, object]:
    """One span as a JSON-ready dict (Kafka keys arrive as bytes attributes: decoded here)."""
    context = span.get_span_context()
    return {
        "name": span.name,
        "service": span.resource.attributes.get("service.name"),
        "trace_id": format(context.trace_id, "032x") if context else None,
        "span_id": format(context.span_id, "016x") if context else None,
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else None,
        "kind": span.kind.name,
        "start": span.start_time,
        "end": span.end_time,
        "status": span.status.status_code.name,
        "attributes": {k: _plain(v) for k, v in (span.attributes or {}).items()},
    }


def build_tracer_provider(service: str, trace_file: Path | None) -> TracerProvider:
    """The process-wide provider (set globally once, so library and job spans share it)."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=Resource.create({"service.name": f"hlm360-{service}"}))
    if trace_file is not None:
        provider.add_span_processor(BatchSpanProcessor(JsonLinesSpanExporter(trace_file)))
    trace.set_tracer_provider(provider)
    return provider


def current_trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier
