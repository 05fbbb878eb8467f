"""Bounded parsing of what arrives from Kafka (docs/adr/0009): size, UTF-8 and JSON nesting are
checked on the raw bytes before any JSON parser runs, then the event model validates. FastStream
is told never to parse bodies itself, and to read headers it cannot decode instead of failing.

Nothing here echoes input: reasons name limits, offsets and fields, never values."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from aiokafka import ConsumerRecord
from faststream.message import StreamMessage
from pydantic import ValidationError

from shared.contracts.events import Event

E = TypeVar("E", bound=Event)

MAX_MESSAGE_BYTES = 512 * 1024  # the largest valid event (20 comments of 5,000 4-byte characters) fits
MAX_JSON_DEPTH = 32  # events nest 4 deep; jiter's own guard is 200, json's is the Python stack

# One token per string (escapes skipped, unterminated runs to the end) or bracket: a linear scan
# in C, so brackets inside strings never count.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)
_OPENING = frozenset(b"[{")
_CLOSING = frozenset(b"]}")
_FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class InboundLimits:
    max_bytes: int = MAX_MESSAGE_BYTES
    max_depth: int = MAX_JSON_DEPTH


class Undecodable(Exception):
    """A message that can never become an event, so retrying cannot help: it is dead-lettered."""

    def __init__(self, reason: str, *, kind: Literal["undecodable", "invalid"] = "undecodable") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


def json_depth(data: bytes, *, stop_above: int | None = None) -> int:
    """How deeply arrays and objects nest in `data` (0 for a scalar), without parsing it; gives up
    as soon as the depth passes `stop_above`. Meant for JSON; on other bytes it still terminates."""
    depth = deepest = 0
    for token in _TOKENS.finditer(data):
        byte = data[token.start()]
        if byte in _OPENING:
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    break
        elif byte in _CLOSING and depth:
            depth -= 1
    return deepest


def check_body(body: bytes, limits: InboundLimits) -> None:
    """Refuse a body no JSON parser should see: too large, not UTF-8, or nested too deeply."""
    if len(body) > limits.max_bytes:
        raise Undecodable(f"too large: {len(body)} bytes > {limits.max_bytes}")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise Undecodable(f"not UTF-8: invalid byte at offset {error.start}") from None
    if json_depth(body, stop_above=limits.max_depth) > limits.max_depth:
        raise Undecodable(f"too deep: JSON nesting over {limits.max_depth} levels")


def parse_event(event_type: type[E], body: bytes, limits: InboundLimits) -> E:
    """The event in `body`, or Undecodable with a reason that never quotes the body."""
    check_body(body, limits)
    try:
        return event_type.model_validate_json(body)
    except ValidationError as error:
        raise Undecodable(validation_reason(error), kind="invalid") from None
    except RecursionError:  # the depth check makes this unreachable; kept so it can never loop
        raise Undecodable("too deep: the parser ran out of stack") from None


def validation_reason(error: ValidationError) -> str:
    """Human-readable reason without echoing input values (they may hold personal data)."""
    parts = []
    for item in error.errors(include_input=False, include_url=False, include_context=False):
        location = ".".join(_location_part(item["loc"], i) for i in range(len(item["loc"]))) or "(message)"
        parts.append(f"{location}: {_safe_message(item['type'], item['msg'])}")
    return "invalid event: " + "; ".join(parts)


def _location_part(location: tuple[int | str, ...], index: int) -> str:
    """Field names and list positions; a dict key (input, marked by a following "[key]") is hidden."""
    part = location[index]
    if isinstance(part, int) or part == "[key]":
        return str(part)
    following = location[index + 1] if index + 1 < len(location) else None
    return part if _FIELD_NAME.match(part) and following != "[key]" else "?"


def _safe_message(error_type: str, message: str) -> str:
    """pydantic's message up to its details: those may quote the input (an email validator's
    "invalid characters: 'x'", a UUID's "found `n`"). JSON syntax messages give only positions."""
    if error_type == "json_invalid":
        return message
    return message.split(": ", 1)[0].split(", found", 1)[0]


def raw_body(message: StreamMessage[Any]) -> bytes:
    """FastStream decoder that never parses: FastStream's own runs json.loads on the body before
    the handler, unbounded (a deeply nested body raised RecursionError on every redelivery)."""
    body = message.body
    return body if isinstance(body, bytes) else b""


async def readable_headers(
    record: ConsumerRecord[Any, Any],
    parse: Callable[[ConsumerRecord[Any, Any]], Awaitable[StreamMessage[Any]]],
) -> StreamMessage[Any]:
    """FastStream parser that first makes every header value UTF-8 (FastStream decodes them
    strictly: one bad header made it skip the message without a dead letter)."""
    headers = record.headers or ()
    if not all(isinstance(value, bytes) and _is_utf8(value) for _, value in headers):
        record.headers = tuple(
            (name, (value or b"").decode("utf-8", errors="replace").encode()) for name, value in headers
        )
    return await parse(record)


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
