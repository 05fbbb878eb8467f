"""What text may cross a boundary: the one definition events, JSON APIs, HTML forms and CSV rows use.

A name, an id or any other single-line value refuses control characters (C0 and C1, DEL, tab,
vertical tab, carriage return), the Unicode line and paragraph separators (U+2028, U+2029) and the
bidirectional overrides and isolates (U+202A..U+202E, U+2066..U+2069) that can make text read
differently from what it is. Such a character in an email subject or header breaks the message or
smuggles a header; in a report or a log it hides what the text says. Free text (comments,
reflections) may span lines (newline and tab only) but refuses the rest.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, GetJsonSchemaHandler, StringConstraints
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

# Written so that both Python's re and ECMA-262 (JSON Schema "pattern") read it the same way.
_SINGLE_LINE_FORBIDDEN = r"\x00-\x1F\x7F-\x9F\u2028\u2029\u202A-\u202E\u2066-\u2069"
_MULTI_LINE_FORBIDDEN = r"\x00-\x08\x0B-\x1F\x7F-\x9F\u2028\u2029\u202A-\u202E\u2066-\u2069"
SINGLE_LINE_PATTERN = rf"^[^{_SINGLE_LINE_FORBIDDEN}]*$"
MULTI_LINE_PATTERN = rf"^[^{_MULTI_LINE_FORBIDDEN}]*$"
_SINGLE_LINE_BAD = re.compile(rf"[{_SINGLE_LINE_FORBIDDEN}]")
_MULTI_LINE_BAD = re.compile(rf"[{_MULTI_LINE_FORBIDDEN}]")

SINGLE_LINE_MESSAGE = "must be one line of text, without control characters or line breaks"
MULTI_LINE_MESSAGE = "must be text without control characters (new lines are allowed)"

SHORT_TEXT_MAX = 200
FREE_TEXT_MAX = 5000


def single_line_problem(value: str, *, max_length: int | None = None) -> str | None:
    """Why `value` is not acceptable single-line text, or None: for forms and CSV rows. The reason
    never repeats the value (it may be a name); put the field's label in front of it."""
    if _SINGLE_LINE_BAD.search(value):
        return SINGLE_LINE_MESSAGE
    return _length_problem(value, max_length)


def multi_line_problem(value: str, *, max_length: int | None = None) -> str | None:
    """Why `value` is not acceptable free text, or None (carriage returns are normalised first)."""
    value = normalise_newlines(value)
    if _MULTI_LINE_BAD.search(value):
        return MULTI_LINE_MESSAGE
    return _length_problem(value, max_length)


def _length_problem(value: str, max_length: int | None) -> str | None:
    if max_length is not None and len(value) > max_length:
        return f"must be {max_length:,} characters or fewer"
    return None


def normalise_newlines(value: str) -> str:
    """Browsers send CRLF from a textarea: keep one kind of line break."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def _check_single_line(value: str) -> str:
    if _SINGLE_LINE_BAD.search(value):
        raise PydanticCustomError("single_line_text", SINGLE_LINE_MESSAGE)
    return value


def _check_multi_line(value: str) -> str:
    value = normalise_newlines(value)
    if _MULTI_LINE_BAD.search(value):
        raise PydanticCustomError("free_text", MULTI_LINE_MESSAGE)
    return value


class _Pattern:
    """Puts the rule into the JSON schema (AsyncAPI, OpenAPI) so integrators and fuzzers see it."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema: dict[str, Any] = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema


# Use these with StringConstraints for a length of your own:
#   Annotated[str, StringConstraints(strip_whitespace=True, max_length=60), *SINGLE_LINE]
SINGLE_LINE = (AfterValidator(_check_single_line), _Pattern(SINGLE_LINE_PATTERN))
MULTI_LINE = (AfterValidator(_check_multi_line), _Pattern(MULTI_LINE_PATTERN))

SingleLine = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=SHORT_TEXT_MAX),
    AfterValidator(_check_single_line),
    _Pattern(SINGLE_LINE_PATTERN),
]
FreeText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=FREE_TEXT_MAX),
    AfterValidator(_check_multi_line),
    _Pattern(MULTI_LINE_PATTERN),
]
