"""The access table (shared/contracts/channels.py) says what the code does: each service subscribes
to exactly the events it is said to read and builds exactly the events it is said to write."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from shared.contracts.channels import (
    BUILT_NOT_PUBLISHED,
    EXTERNAL,
    INVITATIONS,
    RATINGS,
    READERS,
    REPORTS,
    SERVICES,
    WRITERS,
    reads,
    writes,
)
from shared.contracts.events import EVENT_TYPES, RatingSubmitted, ResponseReceived

ROOT = Path(__file__).resolve().parents[2]
EVENT_NAMES = {event.__name__ for event in EVENT_TYPES}


def _package(service: str) -> Path:
    return ROOT / "services" / service / "src" / service


def subscribed(service: str) -> set[str]:
    """The event types of `on(<Event>, ...)` calls in the service's handlers."""
    tree = ast.parse((_package(service) / "handlers.py").read_text(encoding="utf-8"))
    return {
        node.args[0].id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "on"
        and node.args
        and isinstance(node.args[0], ast.Name)
    }


def built(service: str) -> set[str]:
    """The event types the service's code constructs."""
    found: set[str] = set()
    for path in _package(service).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in EVENT_NAMES:
                found.add(node.func.id)
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_reads_what_the_table_says(service: str) -> None:
    assert subscribed(service) == {event.__name__ for event in reads(service)}


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_writes_what_the_table_says(service: str) -> None:
    not_published = {event.__name__ for event in BUILT_NOT_PUBLISHED.get(service, frozenset())}
    assert built(service) - not_published == {event.__name__ for event in writes(service)}


def test_other_systems_may_start_a_360_and_follow_it_but_never_read_answers_or_people() -> None:
    assert [event.__name__ for event in writes(EXTERNAL)] == ["CycleRequested"]
    readable = {event.__name__ for event in reads(EXTERNAL)}
    assert readable == {"CycleClosed", "ReportReleased", "FeedbackSessionCompleted"}
    personal = {"participant_name", "participant_email", "name", "email", "comments", "answers"}
    for event in reads(EXTERNAL):
        assert not personal & set(event.model_fields), event.__name__


def test_the_check_finds_subscriptions_and_constructions() -> None:
    assert "CycleOpened" in subscribed("ratings") and "RatingSubmitted" in built("ratings")


ANSWERS = {"answers", "importance", "comments"}


def test_only_reports_reads_answers_and_invitations_follows_progress_from_the_fact_alone() -> None:
    """Issue 12, minimum data in events: invitations knows who every rater is, so it must never
    receive what they answered; it learns that they responded from ResponseReceived."""
    carrying_answers = [event for event in EVENT_TYPES if ANSWERS & set(event.model_fields)]
    assert {event.__name__ for event in carrying_answers} == {"RatingSubmitted", "SelfAssessmentCompleted"}
    for event in carrying_answers:
        assert READERS[event] == {REPORTS}, event.__name__
    assert "RatingSubmitted" not in subscribed("invitations")
    assert "ResponseReceived" in subscribed("invitations")
    assert not ANSWERS & set(ResponseReceived.model_fields)
    assert WRITERS[ResponseReceived] == WRITERS[RatingSubmitted] == {RATINGS}
    assert {"RatingSubmitted", "ResponseReceived"} <= built("ratings")


def test_no_event_invitations_reads_carries_free_text_from_raters_about_the_participant() -> None:
    for event in reads(INVITATIONS):
        assert not ANSWERS & set(event.model_fields), event.__name__
