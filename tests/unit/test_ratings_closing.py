"""When a cycle stops taking responses, and with which reason."""

from datetime import UTC, datetime, timedelta

from ratings.domain import (
    CycleStatus,
    accepts_responses,
    close_reason,
    early_close_reason,
    expected_answers,
    extension_applies,
    responses_per_group,
)
from shared.contracts.vocabulary import CloseReason, RaterGroup

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=3)
INVITED = {RaterGroup.SELF: 1, RaterGroup.LINE_MANAGER: 1, RaterGroup.PEER: 3}


def test_an_open_cycle_with_answers_outstanding_stays_open_before_its_deadline() -> None:
    assert close_reason(expected=5, answered=4, deadline=LATER, now=NOW) is None


def test_the_last_awaited_answer_closes_the_cycle() -> None:
    assert close_reason(expected=5, answered=5, deadline=LATER, now=NOW) is CloseReason.ALL_RESPONDED


def test_the_deadline_closes_the_cycle_from_the_deadline_itself() -> None:
    just_before = close_reason(expected=5, answered=0, deadline=NOW, now=NOW - timedelta(microseconds=1))
    at_deadline = close_reason(expected=5, answered=0, deadline=NOW, now=NOW)

    assert just_before is None
    assert at_deadline is CloseReason.DEADLINE_PASSED


def test_everyone_having_answered_is_the_reason_even_after_the_deadline() -> None:
    assert close_reason(expected=5, answered=5, deadline=NOW, now=LATER) is CloseReason.ALL_RESPONDED


def test_a_cycle_with_nobody_expected_never_counts_as_all_responded() -> None:
    assert close_reason(expected=0, answered=0, deadline=LATER, now=NOW) is None


def test_withdrawn_raters_are_no_longer_awaited_and_replacements_are() -> None:
    assert expected_answers(invited=10, replacements=0, withdrawn=0) == 10
    assert expected_answers(invited=10, replacements=0, withdrawn=2) == 8
    # a bounced rater replaced by someone else: the same number is awaited
    assert expected_answers(invited=10, replacements=1, withdrawn=1) == 10
    assert expected_answers(invited=1, replacements=0, withdrawn=3) == 0


def test_closing_early_is_recorded_as_such_unless_another_reason_already_applies() -> None:
    assert early_close_reason(expected=5, answered=1, deadline=LATER, now=NOW) is CloseReason.CLOSED_EARLY
    assert early_close_reason(expected=5, answered=1, deadline=NOW, now=LATER) is CloseReason.DEADLINE_PASSED
    assert early_close_reason(expected=5, answered=5, deadline=LATER, now=NOW) is CloseReason.ALL_RESPONDED


def test_a_deadline_extension_applies_only_to_an_open_cycle_and_only_if_made_before_the_deadline() -> None:
    assert extension_applies(status=CycleStatus.OPEN, deadline=LATER, extended_at=NOW)
    assert not extension_applies(status=CycleStatus.OPEN, deadline=NOW, extended_at=NOW)
    assert not extension_applies(status=CycleStatus.CLOSED, deadline=LATER, extended_at=NOW)


def test_responses_are_accepted_only_while_open_and_before_the_deadline() -> None:
    assert accepts_responses(status=CycleStatus.OPEN, deadline=LATER, now=NOW)
    assert not accepts_responses(status=CycleStatus.OPEN, deadline=NOW, now=NOW)
    assert not accepts_responses(status=CycleStatus.CLOSED, deadline=LATER, now=NOW)


def test_responses_per_group_shows_zero_for_invited_groups_that_gave_none() -> None:
    counts = responses_per_group(invited_per_group=INVITED, responded_per_group={RaterGroup.PEER: 2})

    assert counts == {RaterGroup.SELF: 0, RaterGroup.LINE_MANAGER: 0, RaterGroup.PEER: 2}
