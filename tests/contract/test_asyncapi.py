"""The committed AsyncAPI document is what other NHS systems build against: it must match the code."""

import json

from pydantic import TypeAdapter

from shared.contracts.asyncapi import DOC_PATH, build_document, render
from shared.contracts.events import EVENT_TYPES
from shared.contracts.topics import ALL_TOPICS, topic_for


def test_committed_asyncapi_document_matches_the_code() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == render(), (
        "docs/asyncapi.json is out of date: run `make asyncapi` and commit it"
    )


def test_every_event_has_a_channel_on_its_versioned_topic() -> None:
    document = build_document()
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == set(ALL_TOPICS)
    for event_type in EVENT_TYPES:
        assert topic_for(event_type).endswith(".v1")
        assert event_type.__name__ in document["components"]["schemas"]


def test_documented_examples_are_valid_events() -> None:
    document = build_document()
    checked = 0
    for event_type in EVENT_TYPES:
        for example in document["components"]["schemas"][event_type.__name__].get("examples", []):
            event = TypeAdapter(event_type).validate_python(example)
            assert event.event_type == event_type.__name__
            checked += 1
    assert checked >= 1


def test_every_event_carries_the_envelope() -> None:
    for event_type in EVENT_TYPES:
        schema = event_type.model_json_schema()
        for field in ("event_id", "event_type", "schema_version", "occurred_at", "correlation_id", "producer"):
            assert field in schema["properties"], (event_type.__name__, field)
        assert event_type.key_field in schema["required"], event_type.__name__
    assert json.loads(DOC_PATH.read_text())["asyncapi"].startswith("3.")
