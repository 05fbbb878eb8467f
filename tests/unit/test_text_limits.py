"""Limits at every edge: each text field of every event refuses control and line-separator characters
and has a length; each list has a size; the form parsers and the cohort CSV reader say which field or
line is wrong, never echoing the value."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from invitations.domain import NominationLimits, Nominee, nomination_problems
from invitations.forms import MAX_FILE_BYTES, BadRow, CohortDefaults, read_rows, row_to_request
from ratings.config import DEFAULT_ITEM_BANK
from ratings.questionnaire import merge_page, page_errors, parse_form, unstorable
from scheduling.forms import CalloutInput, FacilitatorInput, parse_callout, parse_facilitator, parse_interest
from shared.contracts.events import EVENT_TYPES, CycleOpened, CycleRequested, RatingSubmitted
from shared.contracts.text import (
    MULTI_LINE_MESSAGE,
    MULTI_LINE_PATTERN,
    SINGLE_LINE_MESSAGE,
    SINGLE_LINE_PATTERN,
    FreeText,
    SingleLine,
    multi_line_problem,
    single_line_problem,
)
from shared.contracts.vocabulary import Dimension, RaterGroup
from shared.questionnaire import load_item_bank

GOOD_NAMES = ("Siân O'Neill-Jones", "李雷", "Zoë", "Mary-Jane d'Arcy", "José Ñúñez", "Nguyễn Thị Minh Khai")
# (what, inside a value) every single-line field refuses
SINGLE_LINE_BAD = (
    ("line separator U+2028", "Amara\u2028Okafor"),
    ("paragraph separator U+2029", "Amara\u2029Okafor"),
    ("vertical tab", "Amara\vOkafor"),
    ("next line U+0085", "Amara\x85Okafor"),
    ("carriage return", "Amara\rOkafor"),
    ("line feed", "Amara\nOkafor"),
    ("tab", "Amara\tOkafor"),
    ("NUL", "Amara\x00Okafor"),
    ("escape", "Amara\x1b[31mOkafor"),
    ("DEL", "Amara\x7fOkafor"),
    ("right-to-left override U+202E", "Amara\u202eOkafor"),
    ("first strong isolate U+2068", "Amara\u2068Okafor"),
)
FREE_TEXT_BAD = tuple(
    (what, value) for what, value in SINGLE_LINE_BAD if what not in ("carriage return", "line feed", "tab")
)


# --- the contract: every text field of every event ------------------------------------------------


def _models() -> list[type[BaseModel]]:
    """Every event and every model nested in one."""
    seen: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.append(model)
        for info in model.model_fields.values():
            for candidate in _classes_in(info.annotation):
                visit(candidate)

    for event_type in EVENT_TYPES:
        visit(event_type)
    return seen


def _classes_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in getattr(annotation, "__args__", ()):
        yield from _classes_in(argument)


def _schema_nodes(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _schema_nodes(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _schema_nodes(value, f"{path}/{index}")


def _text_fields() -> list[tuple[str, TypeAdapter[Any], bool, bool]]:
    """(model.field, adapter of the field's type, free text?, a list of text?) for every text field."""
    found = []
    for model in _models():
        for name, info in model.model_fields.items():
            if any(_classes_in(info.annotation)):
                continue  # a nested model: its own fields are listed
            adapter: TypeAdapter[Any] = TypeAdapter(info.rebuild_annotation())
            nodes = [node for _, node in _schema_nodes(adapter.json_schema())]
            patterns = {node.get("pattern") for node in nodes}
            if SINGLE_LINE_PATTERN not in patterns and MULTI_LINE_PATTERN not in patterns:
                continue
            found.append(
                (
                    f"{model.__name__}.{name}",
                    adapter,
                    MULTI_LINE_PATTERN in patterns,
                    any(node.get("type") == "array" for node in nodes),
                )
            )
    return found


TEXT_FIELDS = _text_fields()


def test_the_names_and_free_text_of_the_contract_are_all_found() -> None:
    names = {name for name, *_ in TEXT_FIELDS}
    assert {
        "Participant.given_name",
        "Participant.family_name",
        "Participant.organisation",
        "Participant.region",
        "Participant.participant_id",
        "RaterNomination.name",
        "Funding.reference",
        "CycleRequested.programme",
        "CycleOpened.participant_name",
        "CycleOpened.programme",
        "FacilitatorRegistered.name",
        "FacilitatorRegistered.languages",
        "CommentAnswer.text",
        "RaterDeclined.reason",
        "CycleRequested.producer",
        "RatingSubmitted.producer",
        "ResponseReceived.producer",
    } <= names
    free = {name for name, _, is_free, _ in TEXT_FIELDS if is_free}
    assert free == {"CommentAnswer.text", "RaterDeclined.reason"}


@pytest.mark.parametrize(("field", "adapter", "free", "many"), TEXT_FIELDS, ids=[f[0] for f in TEXT_FIELDS])
def test_every_text_field_refuses_control_and_line_separator_characters(
    field: str, adapter: TypeAdapter[Any], free: bool, many: bool
) -> None:
    for what, value in FREE_TEXT_BAD if free else SINGLE_LINE_BAD:
        with pytest.raises(ValidationError) as refused:
            adapter.validate_python([value] if many else value)
        message = str(refused.value.errors(include_input=False)[0]["msg"])
        assert message == (MULTI_LINE_MESSAGE if free else SINGLE_LINE_MESSAGE), (field, what)
        assert "Okafor" not in str(refused.value.errors(include_input=False)), "the value is never echoed"


@pytest.mark.parametrize(("field", "adapter", "free", "many"), TEXT_FIELDS, ids=[f[0] for f in TEXT_FIELDS])
def test_every_text_field_takes_real_names_and_is_bounded(
    field: str, adapter: TypeAdapter[Any], free: bool, many: bool
) -> None:
    for name in GOOD_NAMES:
        assert adapter.validate_python([name] if many else name) == ([name] if many else name), field
    with pytest.raises(ValidationError):
        adapter.validate_python(["x" * 5001] if many else "x" * 5001)
    if free:
        assert adapter.validate_python("Calm in a crisis.\r\nDelegates well.\rListens.") == (
            "Calm in a crisis.\nDelegates well.\nListens."
        ), "free text keeps its lines, one kind of line break"


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=[e.__name__ for e in EVENT_TYPES])
def test_every_string_and_list_of_every_event_is_bounded(event_type: type[BaseModel]) -> None:
    for path, node in _schema_nodes(event_type.model_json_schema()):
        if "examples" in path or "/default" in path:
            continue
        if node.get("type") == "string" and "enum" not in node and "const" not in node:
            bounded = (
                "maxLength" in node
                or node.get("format") in ("uuid", "date-time", "date")
                or str(node.get("pattern", "")).endswith("}$")
            )
            assert bounded, f"{event_type.__name__}{path} has no length"
        if node.get("type") == "array":
            assert "maxItems" in node, f"{event_type.__name__}{path} has no maximum size"
        if node.get("type") == "integer" and "const" not in node:  # consumers store counts in 32-bit columns
            assert node.get("maximum", 2**31) < 2**31, f"{event_type.__name__}{path} has no maximum"


def test_list_sizes_have_room_for_the_item_bank_but_refuse_floods() -> None:
    schema = CycleRequested.model_json_schema()
    assert schema["properties"]["raters"]["maxItems"] == 50
    properties = RatingSubmitted.model_json_schema()["properties"]
    rating = {name: schema.get("maxItems") for name, schema in properties.items() if schema.get("type") == "array"}
    bank = load_item_bank(DEFAULT_ITEM_BANK)
    assert 4 * len(list(bank.items)) <= rating["answers"] <= 200
    assert len(Dimension) <= rating["importance"] <= 20
    assert len(bank.comments) + len(bank.dimensions) <= rating["comments"] <= 20


def test_the_participants_display_name_has_room_for_both_names() -> None:
    given = family = "x" * 100
    CycleOpened.model_validate({**_opened(), "participant_name": f"{given} {family}"})
    with pytest.raises(ValidationError):
        CycleRequested.model_validate(_requested(given_name="x" * 101))


def _requested(**participant: str) -> dict[str, Any]:
    example = CycleRequested.model_json_schema()["examples"][0]
    return {**example, "participant": {**example["participant"], **participant}}


def _opened() -> dict[str, Any]:
    return {
        "producer": "invitations",
        "cycle_id": "6f1c1a52-4f3e-4b0e-9d83-2b9c4a7e5d10",
        "participant_id": "P1",
        "participant_name": "Amara Okafor",
        "organisation": "Trust",
        "region": "London",
        "deadline": "2026-12-17T17:00:00Z",
        "invited_per_group": {"self": 1},
    }


def test_a_name_with_a_line_separator_cannot_become_a_cycle_request_and_the_reason_names_the_field() -> None:
    with pytest.raises(ValidationError) as refused:
        CycleRequested.model_validate(_requested(given_name="Amara\u2028Bcc: all@example.nhs.uk"))
    [error] = refused.value.errors(include_input=False)
    assert error["loc"] == ("participant", "given_name")
    assert "Bcc" not in str(error)
    assert CycleRequested.model_validate(_requested(given_name="  Siân  ")).participant.given_name == "Siân"


# --- the shared checks forms and CSV rows use -----------------------------------------------------


def test_single_and_multi_line_problems_name_the_rule_and_the_length_never_the_value() -> None:
    assert single_line_problem("Siân O'Neill-Jones", max_length=200) is None
    assert single_line_problem("Amara\u2028Okafor") == SINGLE_LINE_MESSAGE
    assert single_line_problem("x" * 201, max_length=200) == "must be 200 characters or fewer"
    assert multi_line_problem("one\r\ntwo\rthree\n\tfour") is None
    assert multi_line_problem("one\vtwo") == MULTI_LINE_MESSAGE
    assert multi_line_problem("x" * 5001, max_length=5000) == "must be 5,000 characters or fewer"
    assert multi_line_problem("ab\r\n" * 2, max_length=6) is None, "CRLF counts as one character"


def test_the_types_are_usable_on_their_own() -> None:
    assert TypeAdapter(SingleLine).validate_python(" Zoë ") == "Zoë"
    assert TypeAdapter(FreeText).validate_python("a\r\nb") == "a\nb"
    with pytest.raises(ValidationError):
        TypeAdapter(SingleLine).validate_python("")


# --- invitations: nominations and the cohort CSV --------------------------------------------------


def _nominees(**names: str) -> list[Nominee]:
    people = [(RaterGroup.LINE_MANAGER, "lm")] + [(RaterGroup.PEER, f"peer{n}") for n in (1, 2, 3)]
    return [
        Nominee(group=group, name=names.get(key, f"Person {key}"), email=f"{key}@example.nhs.uk")
        for group, key in people
    ]


def test_a_nominees_name_must_be_one_line_and_the_problem_points_at_the_name() -> None:
    ok = nomination_problems(
        participant_email="me@example.nhs.uk", nominees=_nominees(peer2="Zoë O'Neill"), limits=NominationLimits()
    )
    assert ok == []
    [problem] = nomination_problems(
        participant_email="me@example.nhs.uk", nominees=_nominees(peer2="Sam\u2028Patel"), limits=NominationLimits()
    )
    assert (problem.index, problem.part) == (2, "name")
    assert problem.message == f"rater 3: their name {SINGLE_LINE_MESSAGE}" and "Sam" not in problem.message
    [long] = nomination_problems(
        participant_email="me@example.nhs.uk", nominees=_nominees(lm="x" * 201), limits=NominationLimits()
    )
    assert long.message == "rater 1: their name must be 200 characters or fewer"


HEADER = (
    "participant_id,given_name,family_name,email,organisation,region,line_manager_name,line_manager_email,"
    "peers,direct_reports,others"
)
PEERS = '"Peer 1 <p1@example.nhs.uk>; Peer 2 <p2@example.nhs.uk>; Peer 3 <p3@example.nhs.uk>"'


def _row(n: int, **changes: str) -> str:
    fields = {
        "participant_id": f"ESR-{n}",
        "given_name": "Alex",
        "family_name": f"Example{n}",
        "email": f"p{n}@example.nhs.uk",
        "organisation": "Trust",
        "region": "London",
        "line_manager_name": "Manager",
        "line_manager_email": f"lm{n}@example.nhs.uk",
        "peers": PEERS,
        "direct_reports": "",
        "others": "",
    }
    return ",".join({**fields, **changes}.values())


DEFAULTS = CohortDefaults(
    programme="Mary Seacole", deadline=date(2030, 1, 1), funding_method="purchase_order", funding_reference="PO-1"
)


def _import(text: str) -> tuple[list[int], list[tuple[int, str]]]:
    """What read_rows and row_to_request make of a file: good line numbers, bad (line, reason)."""
    rows, bad = read_rows(text.encode())
    good = []
    for line, row in rows:
        try:
            row_to_request(row, defaults=DEFAULTS)
        except BadRow as problem:
            bad.append((line, str(problem)))
        else:
            good.append(line)
    return good, sorted(bad)


def test_cohort_rows_with_control_characters_are_refused_by_line_without_the_value() -> None:
    text = (
        "\n".join(
            [
                HEADER,
                _row(1),
                _row(2, given_name="Alex\u2028Bcc"),
                _row(3, family_name='"O\x85Neill"'),
                _row(4, organisation="Trust\x00"),
                _row(
                    5,
                    peers='"Peer 1 <p1@example.nhs.uk>; Pe\u202eer 2 <p2@example.nhs.uk>; Peer 3 <p3@example.nhs.uk>"',
                ),
                _row(6, given_name='"Alex\nSam"'),  # a quoted field over two lines (line 7 too)
                _row(8, given_name="Siân", family_name="O'Neill-Jones"),
                _row(9, region="Lon\vdon"),
            ]
        )
        + "\n"
    )
    good, bad = _import(text)
    assert good == [2, 9]
    assert bad == [
        (3, f"given_name {SINGLE_LINE_MESSAGE}"),
        (4, f"family_name {SINGLE_LINE_MESSAGE}"),
        (5, f"organisation {SINGLE_LINE_MESSAGE}"),
        (6, f"peers {SINGLE_LINE_MESSAGE}"),
        (7, f"given_name {SINGLE_LINE_MESSAGE}"),
        (10, f"region {SINGLE_LINE_MESSAGE}"),
    ]
    assert "Bcc" not in str(bad) and "Neill" not in str(bad)


def test_cohort_rows_with_too_many_or_too_few_fields_or_overlong_ones_are_refused_by_line() -> None:
    text = (
        "\n".join(
            [
                HEADER,
                _row(1) + ",extra",
                _row(2).rsplit(",", 2)[0],
                _row(3, given_name="x" * 101),
                _row(4, organisation="x" * 201),
                _row(5, peers='"' + "; ".join(f"P {i} <p{i}@example.nhs.uk>" for i in range(3000)) + '"'),
                _row(6, family_name='"unbalanced"quote'),
                "",
                _row(8),
            ]
        )
        + "\n"
    )
    good, bad = _import(text)
    assert good == [9]
    assert bad == [
        (2, "has 12 fields but the header row has 11"),
        (3, "has 9 fields but the header row has 11"),
        (4, "given_name must be 100 characters or fewer"),
        (5, "organisation must be 200 characters or fewer"),
        (6, "peers must be 23,000 characters or fewer"),
        (7, "is not valid CSV (',' expected after '\"')"),
    ]


def test_a_cohort_file_that_is_not_utf8_or_too_large_or_headless_is_refused_as_a_whole() -> None:
    latin1 = (HEADER + "\n" + _row(1) + "\n" + _row(2, given_name="Siân")).encode("latin-1")
    with pytest.raises(BadRow, match=r"not UTF-8 text \(first at line 3\); save it as CSV UTF-8"):
        read_rows(latin1)
    with pytest.raises(BadRow, match="larger than 10 MB"):
        read_rows(b"x" * (MAX_FILE_BYTES + 1))
    with pytest.raises(BadRow, match="no column"):
        read_rows(b"")
    with pytest.raises(BadRow, match="no column"):
        read_rows(b"\x00\x00\x00")
    giant = HEADER + "\n" + _row(1) + "\n" + _row(2, organisation="x" * 200_000) + "\n" + _row(3) + "\n"
    with pytest.raises(BadRow, match=r"line 3 has a field longer than 131,072 characters \(is a closing quote"):
        read_rows(giant.encode())
    rows, bad = read_rows(("\ufeff" + HEADER + "\r\n" + _row(1) + "\r\n").encode())
    assert [line for line, _ in rows] == [2] and bad == [], "Excel's CSV UTF-8: BOM and CRLF"


# --- ratings: comments and the decline reason -----------------------------------------------------

BANK = load_item_bank(DEFAULT_ITEM_BANK)


def _complete() -> dict[str, str]:
    form = {f"item:{item.id}": "4" for _, item in BANK.items}
    form |= {f"importance:{d.value}": "3" for d in Dimension}
    return form | {"comment:overall_strengths": "Calm.", "comment:overall_development": "Delegate."}


def test_comments_keep_new_lines_and_refuse_other_control_characters_naming_the_question() -> None:
    kept = parse_form(BANK, _complete() | {"comment:overall_strengths": "Calm.\r\n\r\nKind.\tFair."}, self_rating=False)
    assert kept.submission is not None
    assert dict(kept.submission.comments)["overall_strengths"] == "Calm.\n\nKind.\tFair."
    for _, bad in FREE_TEXT_BAD:
        result = parse_form(BANK, _complete() | {"comment:overall_strengths": f"Calm. {bad}"}, self_rating=False)
        assert result.submission is None
        [error] = result.errors
        assert error.field == "comment:overall_strengths" and error.anchor == "comment-overall-strengths"
        assert error.message.endswith(MULTI_LINE_MESSAGE) and "Okafor" not in error.message


def test_a_page_posted_with_a_nul_is_not_stored_and_shows_the_field_to_correct() -> None:
    page = len(BANK.dimensions)
    section = BANK.dimensions[-1]
    posted = {f"item:{item.id}": "4" for item in section.items} | {f"importance:{section.dimension.value}": "2"}
    assert not unstorable(BANK, page, posted)
    assert not unstorable(BANK, page, posted | {"return": "\x00"}), "only the page's own fields are stored"
    nul = posted | {f"comment:{section.comment_id}": "Good\x00"}
    assert unstorable(BANK, page, nul)
    errors = page_errors(BANK, page, merge_page(BANK, page, {}, nul), self_rating=True)
    assert [e.field for e in errors] == [f"comment:{section.comment_id}"]
    item = posted | {f"item:{section.items[0].id}": "4\x00"}
    assert unstorable(BANK, page, item)
    assert [e.field for e in page_errors(BANK, page, merge_page(BANK, page, {}, item), self_rating=True)] == [
        f"item:{section.items[0].id}"
    ]


# --- scheduling: the lead's and the facilitator's forms ------------------------------------------

TODAY = date(2027, 1, 4)
FACILITATOR = {
    "name": "Sam Okoye",
    "email": "sam.okoye@example.nhs.uk",
    "organisation": "Example Trust",
    "capacity": "4",
}
CALLOUT = {
    "title": "Mary Seacole cohort",
    "details": "Virtual sessions",
    "mode": "virtual",
    "start-day": "1",
    "start-month": "2",
    "start-year": "2027",
    "end-day": "28",
    "end-month": "2",
    "end-year": "2027",
    "participants": "15",
    "register-day": "5",
    "register-month": "1",
    "register-year": "2027",
}


def test_scheduling_single_line_fields_refuse_control_characters_with_an_error_on_the_field() -> None:
    for name in GOOD_NAMES:
        parsed = parse_facilitator({**FACILITATOR, "name": name}, ["en"], today=TODAY)
        assert isinstance(parsed, FacilitatorInput) and parsed.name == name
    for _, bad in SINGLE_LINE_BAD:
        assert parse_facilitator({**FACILITATOR, "name": bad}, ["en"], today=TODAY) == [
            ("name", f"The facilitator's full name {SINGLE_LINE_MESSAGE}")
        ]
        assert parse_facilitator({**FACILITATOR, "organisation": bad}, ["en"], today=TODAY) == [
            ("organisation", f"The facilitator's organisation {SINGLE_LINE_MESSAGE}")
        ]
        assert parse_callout({**CALLOUT, "title": bad}, today=TODAY) == [("title", f"A title {SINGLE_LINE_MESSAGE}")]
    assert parse_facilitator({**FACILITATOR, "name": "x" * 201}, ["en"], today=TODAY) == [
        ("name", "The facilitator's full name must be 200 characters or fewer")
    ]


def test_scheduling_free_text_keeps_lines_and_refuses_other_control_characters() -> None:
    parsed = parse_callout({**CALLOUT, "details": "Two sessions:\r\n- January\r\n- February"}, today=TODAY)
    assert isinstance(parsed, CalloutInput) and parsed.details == "Two sessions:\n- January\n- February"
    for _, bad in FREE_TEXT_BAD:
        assert parse_callout({**CALLOUT, "details": bad}, today=TODAY) == [
            ("details", f"What facilitators are needed for {MULTI_LINE_MESSAGE}")
        ]
        assert parse_interest({"mode": "either", "topics": bad}, ["March"]) == [
            ("topics", f"Topics {MULTI_LINE_MESSAGE}")
        ]
    assert parse_callout({**CALLOUT, "details": "x" * 2001}, today=TODAY) == [
        ("details", "What facilitators are needed for must be 2,000 characters or fewer")
    ]
