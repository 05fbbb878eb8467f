"""What the console asks Prometheus (its HTTP query API): backlogs, consumer lag and job health,
per service instance. Labels are service, consumer group, topic and job names: never people."""

from __future__ import annotations

import math
from dataclasses import dataclass

import httpx

# name on the page -> PromQL (one sample per row)
QUERIES: dict[str, str] = {
    "outbox_pending": "max by (job) (hlm360_outbox_pending_events)",
    "outbox_oldest": "max by (job) (hlm360_outbox_oldest_pending_seconds)",
    "mail_pending": "max by (job) (hlm360_mail_pending_emails)",
    "mail_oldest": "max by (job) (hlm360_mail_oldest_pending_seconds)",
    "consumer_lag": "max by (group, topic) (hlm360_consumer_lag)",
    "job_last_success": "max by (job, task) (hlm360_background_job_last_success_timestamp_seconds)",
    "job_failures": 'sum by (job, task) (increase(hlm360_background_job_runs_total{outcome="failed"}[1h]))',
    "up": "up",
}


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Answer:
    """The samples of one query, or why there are none (Prometheus away: the page says so)."""

    samples: tuple[Sample, ...] = ()
    error: str | None = None


class Prometheus:
    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout

    async def query(self, client: httpx.AsyncClient, promql: str) -> Answer:
        try:
            response = await client.get(f"{self._base}/api/v1/query", params={"query": promql}, timeout=self._timeout)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as error:
            return Answer(error=type(error).__name__)
        if body.get("status") != "success":
            return Answer(error=str(body.get("errorType", "error")))
        return Answer(samples=tuple(_samples(body.get("data", {}).get("result", []))))

    async def overview(self) -> dict[str, Answer]:
        async with httpx.AsyncClient() as client:
            return {name: await self.query(client, promql) for name, promql in QUERIES.items()}


def _samples(result: list[dict[str, object]]) -> list[Sample]:
    found = []
    for row in result:
        metric, value = row.get("metric", {}), row.get("value", [None, "nan"])
        try:
            number = float(value[1])  # type: ignore[index]
        except (TypeError, ValueError, IndexError):
            continue
        if math.isfinite(number):
            labels = {str(k): str(v) for k, v in dict(metric).items() if k != "__name__"}  # type: ignore[call-overload]
            found.append(Sample(labels=labels, value=number))
    return sorted(found, key=lambda s: sorted(s.labels.items()))
