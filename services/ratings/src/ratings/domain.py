"""Pure rules of the ratings service: when a cycle stops taking responses. Link tokens are looked up by
their SHA-256 (shared.links.token_sha256); only the hash is stored, the token is only in the rater's email."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from shared.contracts.vocabulary import CloseReason, RaterGroup


class CycleStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


def total(counts: Mapping[RaterGroup, int]) -> int:
    return sum(counts.values())


def expected_answers(*, invited: int, replacements: int, withdrawn: int) -> int:
    """How many raters the cycle still waits for: those invited at opening, plus replacements
    nominated since, minus raters withdrawn before they submitted (a replaced rater is withdrawn)."""
    return max(invited + replacements - withdrawn, 0)


def all_responded(*, expected: int, answered: int) -> bool:
    """Everyone expected has submitted or declined."""
    return expected > 0 and answered >= expected


def deadline_passed(*, deadline: datetime, now: datetime) -> bool:
    return now >= deadline


def close_reason(*, expected: int, answered: int, deadline: datetime, now: datetime) -> CloseReason | None:
    """Why an open cycle should close now, or None if it should stay open.

    Everyone having answered wins over a passed deadline: it is the more informative reason."""
    if all_responded(expected=expected, answered=answered):
        return CloseReason.ALL_RESPONDED
    if deadline_passed(deadline=deadline, now=now):
        return CloseReason.DEADLINE_PASSED
    return None


def extension_applies(*, status: CycleStatus, deadline: datetime, extended_at: datetime) -> bool:
    """A deadline extension reaches a cycle that is still open and was made before the old deadline.

    An extension made after the deadline is too late, even if the closing job has not run yet: the
    cycle closed at its deadline, and a closed cycle is never reopened."""
    return status is CycleStatus.OPEN and not deadline_passed(deadline=deadline, now=extended_at)


def accepts_responses(*, status: CycleStatus, deadline: datetime, now: datetime) -> bool:
    return status is CycleStatus.OPEN and not deadline_passed(deadline=deadline, now=now)


def responses_per_group(
    *, invited_per_group: Mapping[RaterGroup, int], responded_per_group: Mapping[RaterGroup, int]
) -> dict[RaterGroup, int]:
    """Responses per group, with an explicit 0 for every invited group that gave none."""
    groups = [g for g in RaterGroup if g in invited_per_group or g in responded_per_group]
    return {group: responded_per_group.get(group, 0) for group in groups}


def early_close_reason(*, expected: int, answered: int, deadline: datetime, now: datetime) -> CloseReason:
    """Reason recorded when someone closes an open cycle by hand: the rule's own reason if it already applies."""
    return close_reason(expected=expected, answered=answered, deadline=deadline, now=now) or CloseReason.CLOSED_EARLY
