"""The four services in-process, exporting over OTLP to the local Jaeger (deploy/local/jaeger.sh,
ADR 17): a 360 asked for over HTTP is one trace from that request through Kafka into ratings,
reports and scheduling, found by its cycle id in Jaeger's HTTP API, with ids only in it."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID, uuid4

import httpx

from deploy.demo.journey import build_request
from deploy.demo.traces import SERVICES, opening_trace, root_span, service_of
from shared.contracts.events import CycleOpened
from shared.contracts.topics import topic_for
from tests.config import StackSettings
from tests.integration.conftest import running_service
from tests.integration.scheduling_support import running_scheduling


async def test_a_request_is_one_trace_through_all_four_services_in_jaeger(
    settings: StackSettings, tmp_path: Path
) -> None:
    otlp = {"otlp_endpoint": settings.otel_exporter_otlp_endpoint}
    tag = uuid4().hex[:8]
    request = build_request(cycle_id=uuid4(), facilitator_id=None, tag=tag)
    body = request.model_dump(mode="json", include={"participant", "deadline", "funding", "raters"})
    async with (
        running_service("invitations", settings, link_secret="t" * 64, confirm_public_requests=False, **otlp) as inv,
        running_service("ratings", settings, **otlp),
        running_service("reports", settings, link_secret="r" * 64, output_dir=tmp_path / "reports", **otlp),
        running_scheduling(
            settings, link_secret="s" * 64, output_dir=tmp_path / "sessions", seed_availability=False, **otlp
        ),
    ):
        answer = await inv.client.post("/api/cycles", json=body, headers={"Idempotency-Key": f"itest-trace-{tag}"})
        assert answer.status_code == 202, answer.text
        cycle_id = UUID(answer.json()["cycle_id"])
        async with httpx.AsyncClient(timeout=10.0) as http:
            trace = await opening_trace(http, settings.hlm360_jaeger_url, cycle_id, timeout=45)
    assert trace is not None, f"no trace of cycle {cycle_id} with spans of all of {SERVICES} in Jaeger"

    root = root_span(trace)
    assert (service_of(trace, root), root["operationName"]) == ("hlm360-invitations", "POST /api/cycles")
    names = {(service_of(trace, span), span["operationName"]) for span in trace["spans"]}
    for service in SERVICES[1:]:
        assert (service, f"{topic_for(CycleOpened)} process") in names, "each consumes CycleOpened in this trace"
    kinds = {tag["value"] for span in trace["spans"] for tag in span["tags"] if tag["key"] == "span.kind"}
    assert {"server", "producer", "consumer", "client"} <= kinds, "HTTP, Kafka and SQL spans"

    everything = json.dumps(trace)
    for needle in ("@", "Okafor", "Amara", "Stakeholder", "Line Manager", tag):
        assert needle not in everything, f"{needle!r} in the trace"
