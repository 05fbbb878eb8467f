"""Generates the AsyncAPI document other NHS systems build against (`docs/asyncapi.json`).

`python -m shared.contracts.asyncapi` rewrites the file; a contract test fails when it drifts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from shared.contracts.events import EVENT_TYPES
from shared.contracts.topics import DEAD_LETTER_TOPIC, topic_for

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"

DESCRIPTION = """Events of hlm360, the NHS Healthcare Leadership Model 360 feedback system.

* One topic per event type and schema version (`hlm360.<event-name>.v<N>`), 12 partitions.
* Kafka key: the aggregate id (`cycle_id`), so one cycle's events stay in order on each topic.
* Values are UTF-8 JSON. Every event carries `event_id` (consumers drop duplicates by it),
  `event_type`, `schema_version`, `occurred_at` (UTC-aware ISO 8601), `correlation_id`, `producer`.
* Additive changes only within a schema version; readers ignore unknown fields.
* Other NHS systems may publish `CycleRequested`. A message that fails validation or is refused
  goes to `hlm360.dead-letter.v1` unchanged, with headers `x-dead-letter-reason`,
  `x-dead-letter-consumer`, `x-dead-letter-source-topic`, `x-dead-letter-source-partition`,
  `x-dead-letter-source-offset`, `x-dead-letter-at`.
"""


def build_document() -> dict[str, Any]:
    broker = KafkaBroker("kafka:9092", description="Apache Kafka (KRaft)")
    for event_type in EVENT_TYPES:
        broker.publisher(
            topic_for(event_type),
            title=event_type.__name__,
            description=(event_type.__doc__ or "").strip(),
            schema=event_type,
        )
    broker.publisher(
        DEAD_LETTER_TOPIC,
        title="DeadLetter",
        description="Messages that failed validation or were refused: original bytes, reason in headers.",
    )
    spec = AsyncAPI(broker, title="hlm360 events", version="1.0.0", description=DESCRIPTION)
    document: dict[str, Any] = json.loads(spec.to_specification().to_json())
    return document


def render() -> str:
    return json.dumps(build_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    DOC_PATH.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC_PATH}\n")
