"""Finding a cycle's traces in Jaeger (ADR 17) through its HTTP API, as an admin would in its UI:
search by the `hlm360.cycle_id` span attribute. The trace that opened the cycle runs from the
request (the start page, its confirmation link, or a Kafka request) through all four services."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import httpx

SERVICES = ("hlm360-invitations", "hlm360-ratings", "hlm360-reports", "hlm360-scheduling")
Trace = dict[str, Any]


async def cycle_traces(http: httpx.AsyncClient, jaeger_url: str, cycle_id: UUID, *, service: str) -> list[Trace]:
    """The traces (Jaeger's JSON) in which a span of `service` carries this cycle id."""
    response = await http.get(
        f"{jaeger_url}/api/traces",
        params={
            "service": service,
            "tags": json.dumps({"hlm360.cycle_id": str(cycle_id)}),
            "lookback": "2h",
            "limit": "200",
        },
    )
    response.raise_for_status()
    found: list[Trace] = response.json().get("data") or []
    return found


def services_in(trace: Trace) -> set[str]:
    return {process["serviceName"] for process in trace.get("processes", {}).values()}


def root_span(trace: Trace) -> dict[str, Any]:
    """The span no other span of the trace is the parent of (the request that started it)."""
    ids = {span["spanID"] for span in trace["spans"]}
    roots = [s for s in trace["spans"] if not any(r["spanID"] in ids for r in s.get("references", []))]
    return min(roots, key=lambda span: span["startTime"])


def service_of(trace: Trace, span: dict[str, Any]) -> str:
    name: str = trace["processes"][span["processID"]]["serviceName"]
    return name


async def opening_trace(
    http: httpx.AsyncClient, jaeger_url: str, cycle_id: UUID, *, timeout: float = 30.0
) -> Trace | None:
    """The cycle's first trace with spans of all four services (spans reach Jaeger in batches,
    seconds after the work: waits up to `timeout`), or None. A later one can reach all four too
    (the last rater's answers close the cycle, which leads to the report and the booking email)."""
    deadline = time.monotonic() + timeout
    while True:
        # ratings learns of a cycle only from invitations' CycleOpened: its spans carry the cycle id
        traces = await cycle_traces(http, jaeger_url, cycle_id, service="hlm360-ratings")
        complete = [trace for trace in traces if services_in(trace) >= set(SERVICES)]
        if complete:
            return min(complete, key=lambda trace: root_span(trace)["startTime"])
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(1.0)


async def trace_links(jaeger_url: str, cycle_id: UUID, *, timeout: float = 30.0) -> list[str]:
    """Lines for `make demo`: where to open the cycle's trace, or why it cannot be shown."""
    query = {"service": "hlm360-ratings", "tags": json.dumps({"hlm360.cycle_id": str(cycle_id)})}
    search = f"{jaeger_url}/search?{urlencode(query)}"
    try:
        async with httpx.AsyncClient(timeout=10.0) as http:
            trace = await opening_trace(http, jaeger_url, cycle_id, timeout=timeout)
    except httpx.HTTPError as error:
        return [f"  trace:           Jaeger not reachable at {jaeger_url} ({type(error).__name__})"]
    if trace is None:
        return [f"  trace:           not found in Jaeger within {timeout:.0f}s; search: {search}"]
    return [
        f"  trace (Jaeger):  {jaeger_url}/trace/{trace['traceID']}",
        f"  as JSON:         {jaeger_url}/api/traces/{trace['traceID']}",
        f"  all its traces:  {search}",
    ]
