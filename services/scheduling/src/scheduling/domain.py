"""Pure rules for booking a feedback session: accreditation, conflict of interest, monthly
capacity, which facilitator and slot to try first, and when the weekly availability falls."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from uuid import UUID
from zoneinfo import ZoneInfo

ELEARNING_PASS_MARK = 80

# Facilitators seeded by migration 0002; the availability job keeps their diaries filled.
SEEDED_FACILITATOR_IDS: tuple[UUID, ...] = (
    UUID("9a3b8c1d-2e4f-4a5b-8c6d-7e8f9a0b1c2d"),
    UUID("3f6d2a8e-51c4-4b7a-9e0d-6c2b8a4f1e37"),
    UUID("c84e1b52-7d3a-4f69-a1e8-0b5d9c2f6a43"),
    UUID("5e0a9d7c-2b8f-4c16-b3e4-8f7a1d6c0b95"),
)

MonthKey = tuple[int, int]


class FacilitatorStatus(StrEnum):
    ACTIVE = "active"
    LAPSED = "lapsed"
    SUSPENDED = "suspended"


class SessionStatus(StrEnum):
    BOOKED = "booked"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Facilitator:
    id: UUID
    region: str
    organisation: str
    status: FacilitatorStatus
    elearning_score: int | None
    course_completed_on: date | None
    monthly_capacity: int


@dataclass(frozen=True)
class FreeSlot:
    id: UUID
    facilitator_id: UUID
    starts_at: datetime
    ends_at: datetime
    mode: str = "virtual"


@dataclass(frozen=True)
class MatchRequest:
    """What the booking needs to know about the participant: never their name."""

    organisation: str
    region: str
    chosen_facilitator_id: UUID | None = None


def is_accredited(facilitator: Facilitator) -> bool:
    """Accredited: passed the e-learning (80% pass mark) and completed the one-day course."""
    return (
        facilitator.elearning_score is not None
        and facilitator.elearning_score >= ELEARNING_PASS_MARK
        and facilitator.course_completed_on is not None
    )


def can_facilitate(facilitator: Facilitator) -> bool:
    return facilitator.status is FacilitatorStatus.ACTIVE and is_accredited(facilitator)


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def has_conflict_of_interest(facilitator: Facilitator, *, participant_organisation: str) -> bool:
    """A facilitator must not give feedback to someone from their own organisation."""
    return _normalise(facilitator.organisation) == _normalise(participant_organisation)


def same_region(facilitator: Facilitator, *, region: str) -> bool:
    return _normalise(facilitator.region) == _normalise(region)


def has_capacity(*, booked_in_month: int, monthly_capacity: int) -> bool:
    return booked_in_month < monthly_capacity


def month_key(instant: datetime, *, tz: ZoneInfo) -> MonthKey:
    """The calendar month an instant falls in, in local time (a session at 00:30 BST on 1 June is June's)."""
    local = instant.astimezone(tz)
    return (local.year, local.month)


def month_bounds(key: MonthKey, *, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC instants where a local calendar month starts and the next one starts."""
    year, month = key
    next_year, next_month = (year + 1, 1) if month == 12 else (year, month + 1)
    start = datetime(year, month, 1, tzinfo=tz).astimezone(UTC)
    end = datetime(next_year, next_month, 1, tzinfo=tz).astimezone(UTC)
    return start, end


def count_by_month(
    bookings: Iterable[tuple[UUID, datetime]], *, tz: ZoneInfo
) -> Counter[tuple[UUID, MonthKey]]:
    """Booked sessions per (facilitator, local month) from (facilitator_id, starts_at) pairs."""
    return Counter((facilitator_id, month_key(starts_at, tz=tz)) for facilitator_id, starts_at in bookings)


def ranked_facilitators(
    facilitators: Iterable[Facilitator], *, request: MatchRequest
) -> list[tuple[int, Facilitator]]:
    """Facilitators who may take the session, each with its preference rank (lower is better).

    0: the participant's own choice, if active and accredited (their explicit choice stands);
    1: same region as the participant; 2: any other region. Ranks 1 and 2 exclude anyone from
    the participant's organisation (conflict of interest).
    """
    ranked: list[tuple[int, Facilitator]] = []
    for facilitator in facilitators:
        if not can_facilitate(facilitator):
            continue
        if facilitator.id == request.chosen_facilitator_id:
            ranked.append((0, facilitator))
        elif has_conflict_of_interest(facilitator, participant_organisation=request.organisation):
            continue
        elif same_region(facilitator, region=request.region):
            ranked.append((1, facilitator))
        else:
            ranked.append((2, facilitator))
    return sorted(ranked, key=lambda pair: (pair[0], str(pair[1].id)))


def booking_options(
    *,
    ranked: list[tuple[int, Facilitator]],
    free_slots: Iterable[FreeSlot],
    booked: Mapping[tuple[UUID, MonthKey], int],
    not_before: datetime,
    tz: ZoneInfo,
) -> list[FreeSlot]:
    """Slots to try, best first: by facilitator preference rank, then earliest start.

    A slot qualifies if it starts no earlier than `not_before` and its facilitator still has
    capacity in the slot's local month.
    """
    by_id = {facilitator.id: (rank, facilitator) for rank, facilitator in ranked}
    options: list[tuple[int, datetime, str, FreeSlot]] = []
    for slot in free_slots:
        entry = by_id.get(slot.facilitator_id)
        if entry is None or slot.starts_at < not_before:
            continue
        rank, facilitator = entry
        used = booked.get((facilitator.id, month_key(slot.starts_at, tz=tz)), 0)
        if not has_capacity(booked_in_month=used, monthly_capacity=facilitator.monthly_capacity):
            continue
        options.append((rank, slot.starts_at, str(slot.id), slot))
    options.sort(key=lambda option: option[:3])
    return [option[3] for option in options]


def weekday_slots(
    *, first_day: date, days: int, local_times: Iterable[time], duration: timedelta, tz: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    """(start, end) in UTC of slots at the given local wall-clock times on weekdays.

    The wall-clock time is kept across daylight-saving changes: 10:00 in London is 10:00 UTC in
    winter and 09:00 UTC in summer.
    """
    times = sorted(local_times)
    slots: list[tuple[datetime, datetime]] = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for wall in times:
            starts_at = datetime.combine(day, wall, tzinfo=tz).astimezone(UTC)
            slots.append((starts_at, starts_at + duration))
    return slots
