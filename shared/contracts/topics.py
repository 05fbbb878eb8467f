"""Kafka topic names: one topic per event type and schema version, plus the dead-letter topic and
the operators' audit of what was done with dead letters (shared.contracts.deadletters)."""

import re
from typing import Literal

from shared.contracts.events import EVENT_TYPES, Event
from shared.settings import TopicSettings

NAMESPACE = TopicSettings().topic_namespace
DEAD_LETTER_TOPIC = f"{NAMESPACE}.dead-letter.v1"
# Operators only (the broker's super user): one entry per replayed or discarded dead letter.
DEAD_LETTER_AUDIT_TOPIC = f"{NAMESPACE}.dead-letter-audit.v1"
PARTITIONS = 12
# What a dead letter's `x-dead-letter-kind` header says (the AsyncAPI document lists them).
DeadLetterKind = Literal["undecodable", "invalid", "rejected", "failed"]
DEAD_LETTER_KINDS: tuple[DeadLetterKind, ...] = ("undecodable", "invalid", "rejected", "failed")


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def topic_for(event_type: type[Event] | Event) -> str:
    cls = event_type if isinstance(event_type, type) else type(event_type)
    version = cls.model_fields["schema_version"].default
    return f"{NAMESPACE}.{_kebab(cls.__name__)}.v{version}"


ALL_TOPICS: tuple[str, ...] = (*(topic_for(t) for t in EVENT_TYPES), DEAD_LETTER_TOPIC, DEAD_LETTER_AUDIT_TOPIC)
# Topic settings other than the broker's defaults: the audit is kept for ever (it is small: ids only).
TOPIC_CONFIGS: dict[str, dict[str, str]] = {DEAD_LETTER_AUDIT_TOPIC: {"retention.ms": "-1"}}
