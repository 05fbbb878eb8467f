"""Bounded parsing of Kafka messages: the size, UTF-8 and nesting checks that run before any JSON
parser, and reasons that never quote the message."""

import json
import time
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.contracts.events import CycleClosed, CycleRequested
from shared.contracts.vocabulary import CloseReason, RaterGroup
from shared.inbound import InboundLimits, Undecodable, check_body, json_depth, parse_event, validation_reason

LIMITS = InboundLimits(max_bytes=4096, max_depth=8)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=40,
)
# Strings made mostly of what a naive scanner would count or trip on.
tricky_text = st.text(alphabet=st.sampled_from(list('[]{}"\\/ ,:ab\n\u2028é😀')), max_size=30)


def depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    return 0


@given(json_values, st.booleans())
def test_scanner_depth_equals_the_depth_of_the_parsed_json(value: Any, ascii_only: bool) -> None:
    data = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert json_depth(data) == depth_of(json.loads(data))


@given(st.lists(tricky_text, max_size=5), st.dictionaries(tricky_text, tricky_text, max_size=5))
def test_brackets_and_escaped_quotes_inside_strings_do_not_count(items: list[str], mapping: dict[str, str]) -> None:
    assert json_depth(json.dumps(items).encode()) == 1
    assert json_depth(json.dumps(mapping).encode()) == 1
    assert json_depth(json.dumps({"a": [mapping]}).encode()) == 3


@pytest.mark.parametrize(
    ("data", "depth"),
    [
        (b"1", 0),
        (b'"[[[{{{"', 0),
        (b'"\\"[", "]"', 0),  # an escaped quote does not end the string
        (b'["\\\\", ["x"]]', 2),  # an escaped backslash does not escape the closing quote
        (b'{"a": "[\\"", "b": [{"c": []}]}', 4),
        (b"[[]] [[[]]]", 3),
        (b"]]]] [", 1),  # malformed: stray closers never make the depth negative
        (b'["unterminated [[[', 1),
    ],
)
def test_scanner_examples(data: bytes, depth: int) -> None:
    assert json_depth(data) == depth


def test_scanner_stops_early_and_stays_linear_on_hostile_bodies() -> None:
    started = time.perf_counter()
    assert json_depth(b"[" * 500_000, stop_above=32) == 33
    assert json_depth(b'"' + b'\\"' * 250_000 + b'"') == 0
    assert json_depth(b"[" + b'"a",' * 100_000 + b'"a"]') == 1
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"x" * 4097, "too large: 4097 bytes > 4096"),
        (b'{"name": "Zo\xeb"}', "not UTF-8: invalid byte at offset 12"),
        (b'{"a": "\xed\xa0\x80"}', "not UTF-8: invalid byte at offset 7"),  # an encoded surrogate
        (b'{"a":' * 9 + b"1" + b"}" * 9, "too deep: JSON nesting over 8 levels"),
        (b"[" * 2000 + b"]" * 2000, "too deep: JSON nesting over 8 levels"),
    ],
)
def test_bodies_no_parser_should_see_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(Undecodable) as refused:
        check_body(body, LIMITS)
    assert refused.value.reason == reason and refused.value.kind == "undecodable"


def test_a_body_at_the_limits_passes() -> None:
    check_body(b'{"a":' * 8 + b"1" + b"}" * 8, LIMITS)
    check_body(b'"' + b"x" * 4094 + b'"', LIMITS)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"[1, 2, 3]", "(message): Input should be an object"),
        (b'"just a string"', "(message): Input should be an object"),
        (b'{"event_type": ', "(message): Invalid JSON: EOF while parsing a value at line 1 column 15"),
        (b"not json", "(message): Invalid JSON"),
    ],
)
def test_a_body_that_is_not_an_event_object_is_invalid(body: bytes, fragment: str) -> None:
    with pytest.raises(Undecodable) as refused:
        parse_event(CycleClosed, body, LIMITS)
    assert refused.value.kind == "invalid"
    assert refused.value.reason.startswith("invalid event: ") and fragment in refused.value.reason


def test_a_valid_event_parses() -> None:
    event = CycleClosed(
        producer="test", cycle_id=uuid4(), reason=CloseReason.ALL_RESPONDED, responses_per_group={RaterGroup.PEER: 3}
    )
    assert parse_event(CycleClosed, event.model_dump_json().encode(), InboundLimits()) == event


@pytest.mark.parametrize(
    ("model", "body", "fields"),
    [
        (
            CycleRequested,
            {
                "event_type": "CycleRequested",
                "producer": "x",
                "cycle_id": "Amara-Okafor-not-a-uuid",
                "participant": {"email": "amara.okafor@@nhs.net", "given_name": "Amara"},
            },
            ["participant.email", "cycle_id"],
        ),
        (
            CycleClosed,
            {
                "event_type": "CycleClosed",
                "producer": "x",
                "cycle_id": str(uuid4()),
                "reason": "Amara Okafor left",
                "responses_per_group": {"Amara Okafor": 1, "peer": "Okafor"},
            },
            ["reason", "responses_per_group.?.[key]", "responses_per_group.peer"],
        ),
    ],
)
def test_reasons_name_fields_but_quote_neither_values_nor_keys_nor_characters(
    model: type[CycleRequested | CycleClosed], body: dict[str, Any], fields: list[str]
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(json.dumps(body))
    reason = validation_reason(caught.value)
    for field in fields:
        assert field in reason
    for secret in ("Amara", "amara", "Okafor", "nhs.net", "`"):
        assert secret not in reason
