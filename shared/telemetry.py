"""OpenTelemetry tracing: one provider per service runtime, exporting over OTLP (ADR 17).

Trace context crosses Kafka in W3C `traceparent` headers, also through the outbox (the context is
stored with the row when the event is written), so one request's work is one trace in every
service. Whatever the instrumentations record, only ids and technical facts leave the process:
`IdsOnlyExporter` keeps the attributes of an allow-list and drops the rest (URL paths that hold
signed tokens, SQL text, client addresses, exception messages).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, Status
from opentelemetry.util.types import Attributes, AttributeValue

# Custom span attributes (catalogue; never names, emails or free text):
ATTR_CYCLE_ID = "hlm360.cycle_id"
ATTR_EVENT_TYPE = "hlm360.event_type"
ATTR_EVENT_ID = "hlm360.event_id"
ATTR_OUTBOX_BATCH = "hlm360.outbox.batch_size"
ATTR_EMAIL_ID = "hlm360.email.id"
ATTR_EMAIL_KIND = "hlm360.email.kind"

# What the instrumentations may pass on: methods, route templates (`/r/{token}`, never the path),
# status codes, database and Kafka coordinates. Kafka keys are aggregate ids (contract rule).
ALLOWED_ATTRIBUTES = frozenset(
    {
        "http.method",
        "http.request.method",
        "http.route",
        "http.status_code",
        "http.response.status_code",
        "http.scheme",
        "url.scheme",
        "http.flavor",
        "network.protocol.version",
        "server.address",
        "server.port",
        "db.system",
        "db.system.name",
        "db.name",
        "db.namespace",
        "db.operation",
        "db.operation.name",
        "net.peer.name",
        "net.peer.port",
        "error.type",
        "exception.type",
        "exception.escaped",
    }
)
ALLOWED_PREFIXES = ("hlm360.", "messaging.")


def ids_only(attributes: Attributes) -> dict[str, AttributeValue]:
    """The attributes of the allow-list; bytes (Kafka keys) as text."""
    kept: dict[str, AttributeValue] = {}
    for key, value in (attributes or {}).items():
        if key in ALLOWED_ATTRIBUTES or key.startswith(ALLOWED_PREFIXES):
            kept[key] = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
    return kept


def redacted(span: ReadableSpan) -> ReadableSpan:
    """The span with ids-only attributes, events and links, and its status without a description
    (an exception's message may quote what someone typed)."""
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=MappingProxyType(ids_only(span.attributes)),
        events=[Event(e.name, ids_only(e.attributes), e.timestamp) for e in span.events],
        links=[Link(link.context, ids_only(link.attributes)) for link in span.links],
        kind=span.kind,
        status=Status(span.status.status_code),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class IdsOnlyExporter(SpanExporter):
    """Hands spans to `inner` after `redacted`: the one gate every span passes on its way out."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([redacted(span) for span in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class NoOrphanClientSpans(Sampler):
    """Root spans are kept, except a client call (SQL, HTTP out) outside any request, message or
    job: the outbox relay's and the jobs' polling would otherwise fill the store with one-span traces."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if kind is SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, trace_state)

    def get_description(self) -> str:
        return "NoOrphanClientSpans"


def build_tracer_provider(
    service: str, *, otlp_endpoint: str | None, exporter: SpanExporter | None = None
) -> TracerProvider:
    """The runtime's provider, service name `hlm360-<service>`: spans go over OTLP/HTTP to
    `otlp_endpoint` (OTEL_EXPORTER_OTLP_ENDPOINT), and to `exporter` if given (tests), both through
    IdsOnlyExporter. The first one of a process also becomes the global provider (library spans)."""
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: f"hlm360-{service}"}),
        sampler=ParentBased(root=NoOrphanClientSpans()),
    )
    if otlp_endpoint:
        otlp = OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(IdsOnlyExporter(otlp)))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(IdsOnlyExporter(exporter)))
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)
    return provider


def current_trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier
