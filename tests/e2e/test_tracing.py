"""Admins follow one cycle across services: the trace context crosses Kafka through the outbox."""

import json
from pathlib import Path

from deploy.demo.journey import run_journey
from tests.config import StackSettings
from tests.support import eventually


def spans(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_one_trace_follows_a_kafka_request_from_invitations_into_ratings(settings: StackSettings) -> None:
    result = await run_journey(intake="kafka", log=lambda *_: None)
    key = str(result.cycle_id)
    traces = settings.hlm360_local_dir / "traces"

    async def intake_trace() -> str | None:
        for span in spans(traces / "invitations.jsonl"):
            attributes = span.get("attributes", {})
            assert isinstance(attributes, dict)
            if attributes.get("messaging.kafka.message.key") == key and "cycle-requested" in str(span["name"]):
                return str(span["trace_id"])
        return None

    trace_id = await eventually(intake_trace, timeout=20, what="the intake span in invitations' traces")

    async def continued_in_ratings() -> list[dict[str, object]] | None:
        found = [s for s in spans(traces / "ratings.jsonl") if s.get("trace_id") == trace_id]
        return found or None

    found = await eventually(continued_in_ratings, timeout=20, what="ratings spans in the same trace")
    assert any("cycle-opened" in str(s["name"]) or "rater-nominated" in str(s["name"]) for s in found)
