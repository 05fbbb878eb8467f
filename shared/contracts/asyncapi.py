"""Generates the AsyncAPI document other NHS systems build against (`docs/asyncapi.json`).

`python -m shared.contracts.asyncapi` rewrites the file; a contract test fails when it drifts.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.security import SASLScram512
from faststream.specification import AsyncAPI

from shared.contracts.channels import EXTERNAL, READERS, SERVICES, WRITERS
from shared.contracts.deadletters import REPLAY, DeadLetterAudit
from shared.contracts.events import EVENT_TYPES, Event
from shared.contracts.topics import DEAD_LETTER_AUDIT_TOPIC, DEAD_LETTER_KINDS, DEAD_LETTER_TOPIC, topic_for

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"

DESCRIPTION = """Events of hlm360, the NHS Healthcare Leadership Model 360 feedback system.

* One topic per event type and schema version (`hlm360.<event-name>.v<N>`), 12 partitions.
* Kafka key: the aggregate id (`cycle_id`), so one cycle's events stay in order on each topic.
* Values are UTF-8 JSON. Every event carries `event_id` (consumers drop duplicates by it),
  `event_type`, `schema_version`, `occurred_at` (UTC-aware ISO 8601), `correlation_id`, `producer`.
* Additive changes only within a schema version; readers ignore unknown fields.
* The broker authenticates every client (SASL/SCRAM-SHA-512) and authorises each topic: each
  channel's `x-hlm360-access` names who may write and who reads it. Other NHS systems connect as
  the `external` principal: they may write `CycleRequested` (operation `CycleRequested`, a
  `receive` of hlm360) and read `CycleClosed`, `ReportReleased` and `FeedbackSessionCompleted`;
  the broker refuses anything else.
* A message that fails validation or is refused goes to `hlm360.dead-letter.v1` unchanged, with
  its own headers and those of the `DeadLetter` message (reason, kind, consumer, source topic,
  partition, offset). hlm360's operators may replay it to its source topic (same key and headers,
  plus `x-hlm360-replay`): consumers drop an event they already applied by its `event_id`. Their
  decisions go to `hlm360.dead-letter-audit.v1`, which only operators read.
"""


KEY_DESCRIPTIONS = {
    "cycle_id": "the cycle id: one cycle's events stay in order on each topic",
    "assessment_id": "the self-assessment id",
    "facilitator_id": "the facilitator id: one facilitator's events stay in order on each topic",
}
HEADERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event_type": {"type": "string", "description": "The event's type, as in the payload."},
        "event_id": {"type": "string", "format": "uuid", "description": "The event's id, as in the payload."},
        "content-type": {"type": "string", "const": "application/json"},
        "traceparent": {"type": "string", "description": "W3C trace context (optional): one trace across systems."},
        "tracestate": {"type": "string", "description": "W3C trace context vendor state (optional)."},
        REPLAY: {
            "type": "string",
            "description": "Set only on a message an operator replayed from the dead-letter topic: "
            "JSON (replay_id, dead_letter, at, by). Readers may ignore it.",
        },
    },
}
DEAD_LETTER_HEADERS: dict[str, Any] = {
    "type": "object",
    "required": [
        "x-dead-letter-reason",
        "x-dead-letter-kind",
        "x-dead-letter-consumer",
        "x-dead-letter-source-topic",
        "x-dead-letter-source-partition",
        "x-dead-letter-source-offset",
        "x-dead-letter-at",
    ],
    "properties": {
        "x-dead-letter-reason": {"type": "string", "maxLength": 4000, "description": "Why; never quotes input."},
        "x-dead-letter-kind": {"type": "string", "enum": list(DEAD_LETTER_KINDS)},
        "x-dead-letter-consumer": {"type": "string", "description": "`<service>.<consumer>` that refused it."},
        "x-dead-letter-source-topic": {"type": "string"},
        "x-dead-letter-source-partition": {"type": "string", "pattern": "^[0-9]+$"},
        "x-dead-letter-source-offset": {"type": "string", "pattern": "^[0-9]+$"},
        "x-dead-letter-at": {"type": "string", "format": "date-time"},
        "x-dead-letter-body": {"type": "string", "description": "Set when the original was too large to copy."},
    },
    "additionalProperties": {"type": "string", "description": "The original message's headers (bounded)."},
}
SECURITY_DESCRIPTION = (
    "SASL/SCRAM-SHA-512 over TLS in deployments: one principal per service and one (`external`) for "
    "other NHS systems, credentials from the hlm360 operators. Topic rights: each channel's x-hlm360-access."
)


def build_document() -> dict[str, Any]:
    # the credentials only make FastStream describe the scheme; they are not in the document
    broker = KafkaBroker(
        "kafka:9092",
        description="Apache Kafka (KRaft)",
        security=SASLScram512(username="-", password="-"),  # noqa: S106
    )
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
    broker.publisher(
        DEAD_LETTER_AUDIT_TOPIC,
        title="DeadLetterAudit",
        description=(DeadLetterAudit.__doc__ or "").strip(),
        schema=DeadLetterAudit,
    )
    spec = AsyncAPI(broker, title="hlm360 events", version="1.0.0", description=DESCRIPTION)
    document: dict[str, Any] = json.loads(spec.to_specification().to_json())
    for event_type in EVENT_TYPES:
        _describe_event(document, event_type)
    dead_letter = document["components"]["messages"]["DeadLetter:Message"]
    dead_letter["headers"] = DEAD_LETTER_HEADERS
    document["channels"]["DeadLetter"]["x-hlm360-access"] = {"write": list(SERVICES), "read": ["operators"]}
    document["channels"]["DeadLetterAudit"]["x-hlm360-access"] = {"write": ["operators"], "read": ["operators"]}
    document["components"]["securitySchemes"]["scram512"]["description"] = SECURITY_DESCRIPTION
    return document


def _describe_event(document: dict[str, Any], event_type: type[Event]) -> None:
    """Key binding, headers and access of one event; hlm360's operations on it: `send` if a service
    writes it, `receive` if a service reads it (both for most: one service sends, others receive)."""
    name = event_type.__name__
    key_field = event_type.key_field
    message = document["components"]["messages"][f"{name}:Message"]
    message["headers"] = HEADERS
    message["bindings"] = {
        "kafka": {
            "key": {"type": "string", "format": "uuid", "description": f"`{key_field}`: {KEY_DESCRIPTIONS[key_field]}"},
            "bindingVersion": "0.5.0",
        }
    }
    writers, readers = WRITERS[event_type], READERS[event_type]
    document["channels"][name]["x-hlm360-access"] = {"write": sorted(writers), "read": sorted(readers)}
    operations = document["operations"]
    send = operations.pop(name)
    if writers - {EXTERNAL}:
        operations[name] = send
    if readers - {EXTERNAL}:
        operations[f"{name}:receive" if name in operations else name] = {**send, "action": "receive"}


def render() -> str:
    return json.dumps(build_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    DOC_PATH.write_text(render(), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC_PATH}\n")
