"""Admins follow one cycle across services in Jaeger (ADR 17): after a journey, Jaeger's HTTP API
returns the trace that opened the cycle, with spans of all four services, and ids only in it."""

import json

import httpx

from deploy.demo.journey import run_journey
from deploy.demo.traces import SERVICES, opening_trace, root_span, service_of
from tests.config import StackSettings

NAMES = ("Okafor", "Amara", "Stakeholder 1", "Line Manager", "Listens carefully")


async def test_jaeger_shows_the_cycle_as_one_trace_through_all_four_services(settings: StackSettings) -> None:
    result = await run_journey(intake="http", log=lambda *_: None)
    async with httpx.AsyncClient(timeout=10.0) as http:
        trace = await opening_trace(http, settings.hlm360_jaeger_url, result.cycle_id, timeout=30)
        assert trace is not None, f"no trace of cycle {result.cycle_id} with spans of {SERVICES} in Jaeger"
        # the same trace, by id, as the demo's link opens it
        by_id = await http.get(f"{settings.hlm360_jaeger_url}/api/traces/{trace['traceID']}")
    assert by_id.status_code == 200 and by_id.json()["data"][0]["traceID"] == trace["traceID"]

    root = root_span(trace)
    assert service_of(trace, root) == "hlm360-invitations", "the trace starts at the participant's request"
    assert root["operationName"].startswith("POST /"), root["operationName"]
    kinds = {tag["value"] for span in trace["spans"] for tag in span["tags"] if tag["key"] == "span.kind"}
    assert {"server", "producer", "consumer", "client"} <= kinds, "HTTP, Kafka and SQL spans"

    tags = json.dumps([span["tags"] for span in trace["spans"]] + [span["operationName"] for span in trace["spans"]])
    for needle in ("@", *NAMES, *(link.rsplit("/", 1)[-1] for link in result.links.values())):
        assert needle not in tags, f"{needle!r} in the cycle's trace"
