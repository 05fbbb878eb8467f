"""The committed AsyncAPI document is what other NHS systems build against: it must match the code."""

import json
from pathlib import Path

import jsonschema
from pydantic import TypeAdapter

from shared.contracts.asyncapi import DOC_PATH, build_document, render
from shared.contracts.channels import EXTERNAL, READERS, WRITERS
from shared.contracts.events import EVENT_TYPES
from shared.contracts.topics import ALL_TOPICS, topic_for

SCHEMAS = Path(__file__).parent / "schemas"


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


def test_operations_say_what_hlm360_sends_and_receives() -> None:
    operations = build_document()["operations"]
    # other systems write CycleRequested: hlm360 only receives it
    assert operations["CycleRequested"]["action"] == "receive"
    assert "CycleRequested:receive" not in operations
    # a service writes RatingSubmitted and others read it: both operations
    assert operations["RatingSubmitted"]["action"] == "send"
    assert operations["RatingSubmitted:receive"]["action"] == "receive"
    # ratings writes ResponseReceived and invitations reads it: both operations
    assert operations["ResponseReceived"]["action"] == "send"
    assert operations["ResponseReceived:receive"]["action"] == "receive"
    # nobody inside hlm360 reads InvitationSent: a send only
    assert operations["InvitationSent"]["action"] == "send" and "InvitationSent:receive" not in operations
    for event_type in EVENT_TYPES:
        name = event_type.__name__
        sent = {op["action"] for key, op in operations.items() if key.split(":")[0] == name}
        assert sent == ({"send"} if WRITERS[event_type] - {EXTERNAL} else set()) | (
            {"receive"} if READERS[event_type] - {EXTERNAL} else set()
        ), name


def test_every_message_has_its_key_binding_and_headers() -> None:
    document = build_document()
    for event_type in EVENT_TYPES:
        message = document["components"]["messages"][f"{event_type.__name__}:Message"]
        key = message["bindings"]["kafka"]["key"]
        assert key["type"] == "string" and key["format"] == "uuid"
        assert f"`{event_type.key_field}`" in key["description"]
        assert {"event_type", "event_id", "traceparent"} <= set(message["headers"]["properties"])
    dead_letter = document["components"]["messages"]["DeadLetter:Message"]["headers"]
    assert "x-dead-letter-reason" in dead_letter["required"]
    assert dead_letter["properties"]["x-dead-letter-kind"]["enum"] == ["undecodable", "invalid", "rejected", "failed"]


def test_servers_carry_the_security_scheme_and_channels_their_access() -> None:
    document = build_document()
    for server in document["servers"].values():
        assert server["security"] == [{"$ref": "#/components/securitySchemes/scram512"}]
    assert document["components"]["securitySchemes"]["scram512"]["type"] == "scramSha512"
    assert "password" not in json.dumps(document["servers"])
    for event_type in EVENT_TYPES:
        access = document["channels"][event_type.__name__]["x-hlm360-access"]
        assert access == {"write": sorted(WRITERS[event_type]), "read": sorted(READERS[event_type])}
    assert document["channels"]["CycleRequested"]["x-hlm360-access"]["write"] == [EXTERNAL]
    assert document["channels"]["RatingSubmitted"]["x-hlm360-access"]["read"] == ["reports"]
    assert document["channels"]["ResponseReceived"]["x-hlm360-access"] == {
        "write": ["ratings"],
        "read": ["invitations"],
    }
    assert document["channels"]["ResponseReceived"]["address"].endswith(".response-received.v1")


def test_the_fact_of_a_response_is_documented_without_answers() -> None:
    schema = build_document()["components"]["schemas"]["ResponseReceived"]
    assert set(schema["required"]) >= {"cycle_id", "rater_id", "group", "producer"}
    assert not {"answers", "importance", "comments", "questionnaire_version"} & set(schema["properties"])
    assert schema["examples"], "other systems get a valid example"


def test_the_document_is_valid_asyncapi_3() -> None:
    """Validated against the AsyncAPI 3.0.0 JSON schema (asyncapi/spec-json-schemas, Apache-2.0,
    committed under tests/contract/schemas with its licence)."""
    schema = json.loads((SCHEMAS / "asyncapi-3.0.0.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    document = json.loads(DOC_PATH.read_text(encoding="utf-8"))
    assert [error.message for error in validator.iter_errors(document)] == []
    broken = {**document, "operations": {"x": {"action": "sideways", "channel": {"$ref": "#/channels/CycleOpened"}}}}
    assert list(validator.iter_errors(broken)), "the schema must refuse an operation that is neither send nor receive"
