"""Pure rules for booking a feedback session: accreditation, conflict of interest, monthly
capacity, which facilitator and slot to offer first, local times across daylight-saving changes,
and what a session may become next."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from uuid import UUID
from zoneinfo import ZoneInfo

from shared.errors import Rejected

ELEARNING_PASS_MARK = 80

MonthKey = tuple[int, int]


class FacilitatorStatus(StrEnum):
    ACTIVE = "active"
    LAPSED = "lapsed"
    SUSPENDED = "suspended"


class SessionStatus(StrEnum):
    REQUESTED = "requested"  # chosen by the participant, waiting for the facilitator to confirm
    BOOKED = "booked"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


ConflictRule = str  # one of CONFLICT_RULES; config.ConflictRule validates the setting
CONFLICT_RULES: tuple[ConflictRule, ...] = ("organisation", "email_domain", "line")

LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "cy": "Welsh",
    "gd": "Scottish Gaelic",
    "kw": "Cornish",
    "ar": "Arabic",
    "bn": "Bengali",
    "fr": "French",
    "gu": "Gujarati",
    "hi": "Hindi",
    "it": "Italian",
    "ml": "Malayalam",
    "pa": "Punjabi",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "so": "Somali",
    "es": "Spanish",
    "ta": "Tamil",
    "tl": "Tagalog",
    "ur": "Urdu",
    "yo": "Yoruba",
    "bsl": "British Sign Language",
}


# Asked for on the booking page to see every facilitator's times, whatever the participant's preferred language.
ANY_LANGUAGE = "any"


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def session_language(requested: str | None, *, preferred: str | None) -> str | None:
    """The language to match facilitators on (None: any): the one asked for on the booking page, else the
    participant's preferred language; ANY_LANGUAGE sets the preference aside."""
    if requested == ANY_LANGUAGE:
        return None
    return requested or preferred or None


@dataclass(frozen=True)
class Facilitator:
    id: UUID
    region: str
    organisation: str
    status: FacilitatorStatus
    elearning_score: int | None
    course_completed_on: date | None
    monthly_capacity: int
    email_domain: str | None = None
    languages: tuple[str, ...] = ()
    # Only for the "line" conflict rule; kept out of repr so they never reach a log or traceback.
    email: str | None = field(default=None, repr=False)
    line_manager_email: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class FreeSlot:
    id: UUID
    facilitator_id: UUID
    starts_at: datetime
    ends_at: datetime
    mode: str = "virtual"
    location: str | None = None


@dataclass(frozen=True)
class MatchRequest:
    """What the booking needs to know about the participant: never their name.

    `conflict_rules` says what makes a conflict of interest: "organisation" (same organisation),
    "email_domain" (same work email domain, which catches differently written organisation
    names) and "line" (the facilitator is in the participant's management line, manages them, or
    is them). `conflicts_apply_to_choice` decides whether the participant's own choice is held to them.
    """

    organisation: str
    region: str
    chosen_facilitator_id: UUID | None = None
    participant_email_domain: str | None = None
    language: str | None = None
    conflict_rules: frozenset[str] = frozenset(CONFLICT_RULES)
    conflicts_apply_to_choice: bool = False
    # Only for the "line" conflict rule; kept out of repr so they never reach a log or traceback.
    participant_email: str | None = field(default=None, repr=False)
    management_line: frozenset[str] = field(default=frozenset(), repr=False)


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


def email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].strip().casefold() or None


def email_key(email: str | None) -> str | None:
    """An email address as compared for conflicts of interest: trimmed and case-insensitive."""
    return (email.strip().casefold() or None) if email else None


def in_management_line(
    facilitator: Facilitator, *, participant_email: str | None, management_line: Iterable[str]
) -> bool:
    """The facilitator manages the participant (directly or further up), is managed by them, or is them."""
    own = email_key(facilitator.email)
    participant = email_key(participant_email)
    if own is not None and own in {email_key(manager) for manager in management_line}:
        return True
    if participant is not None and participant == email_key(facilitator.line_manager_email):
        return True
    return own is not None and own == participant


def has_conflict_of_interest(
    facilitator: Facilitator,
    *,
    participant_organisation: str,
    participant_email_domain: str | None = None,
    participant_email: str | None = None,
    management_line: Iterable[str] = (),
    rules: Iterable[str] = CONFLICT_RULES,
) -> bool:
    """A facilitator must not give feedback to someone from their own organisation (by name or email
    domain) or their own management line."""
    active = set(rules)
    if "organisation" in active and _normalise(facilitator.organisation) == _normalise(participant_organisation):
        return True
    if (
        "email_domain" in active
        and participant_email_domain is not None
        and facilitator.email_domain is not None
        and facilitator.email_domain == participant_email_domain.casefold()
    ):
        return True
    return "line" in active and in_management_line(
        facilitator, participant_email=participant_email, management_line=management_line
    )


def booked_across_the_line(facilitator: Facilitator, *, request: MatchRequest) -> bool:
    """A facilitator already booked whom the participant's management line, as it is now, rules out (the
    line can grow after booking: a replacement line manager). Only the "line" rule: the others' facts do
    not change after booking. The participant's own choice is held to it only as matching holds it."""
    if "line" not in request.conflict_rules:
        return False
    if facilitator.id == request.chosen_facilitator_id and not request.conflicts_apply_to_choice:
        return False
    return in_management_line(
        facilitator, participant_email=request.participant_email, management_line=request.management_line
    )


def speaks(facilitator: Facilitator, language: str | None) -> bool:
    return language is None or language in facilitator.languages


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


def count_by_month(bookings: Iterable[tuple[UUID, datetime]], *, tz: ZoneInfo) -> Counter[tuple[UUID, MonthKey]]:
    """Booked sessions per (facilitator, local month) from (facilitator_id, starts_at) pairs."""
    return Counter((facilitator_id, month_key(starts_at, tz=tz)) for facilitator_id, starts_at in bookings)


def ranked_facilitators(facilitators: Iterable[Facilitator], *, request: MatchRequest) -> list[tuple[int, Facilitator]]:
    """Facilitators who may take the session, each with its preference rank (lower is better).

    0: the participant's own choice, if active and accredited (and free of conflicts, if
    `conflicts_apply_to_choice`); 1: same region as the participant; 2: any other region.
    Ranks 1 and 2 exclude conflicts of interest and facilitators who do not speak the
    requested language.
    """
    ranked: list[tuple[int, Facilitator]] = []
    for facilitator in facilitators:
        if not can_facilitate(facilitator):
            continue
        conflict = has_conflict_of_interest(
            facilitator,
            participant_organisation=request.organisation,
            participant_email_domain=request.participant_email_domain,
            participant_email=request.participant_email,
            management_line=request.management_line,
            rules=request.conflict_rules,
        )
        if facilitator.id == request.chosen_facilitator_id and not (conflict and request.conflicts_apply_to_choice):
            ranked.append((0, facilitator))
        elif conflict or not speaks(facilitator, request.language):
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


def offer(options: list[FreeSlot], *, ranked: list[tuple[int, Facilitator]], limit: int) -> list[FreeSlot]:
    """What the participant is shown: only their chosen facilitator's times if there are any, else the matches."""
    chosen = {facilitator.id for rank, facilitator in ranked if rank == 0}
    own_choice = [option for option in options if option.facilitator_id in chosen]
    return (own_choice or [option for option in options if option.facilitator_id not in chosen])[:limit]


# --- local times across daylight-saving changes ---------------------------------------------------


def local_to_utc(day: date, wall: time, *, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time; refuses times the clock change skips or repeats."""
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) != naive:
        raise Rejected(
            f"{wall:%H:%M} on {day:%-d %B %Y} does not exist in this time zone because the clocks go forward. "
            "Choose a different time"
        )
    if first != second:
        raise Rejected(
            f"{wall:%H:%M} on {day:%-d %B %Y} happens twice because the clocks go back. Choose a different time"
        )
    return first


def weekly_starts(first_day: date, wall: time, *, weeks: int, tz: ZoneInfo) -> list[datetime]:
    """The same local wall-clock time on `weeks` consecutive weeks (UTC offsets follow the clock changes)."""
    return [local_to_utc(first_day + timedelta(weeks=n), wall, tz=tz) for n in range(weeks)]


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    return a_start < b_end and b_start < a_end


# --- what a session may become ---------------------------------------------------------------------

LIVE_STATUSES = frozenset(
    {SessionStatus.REQUESTED, SessionStatus.BOOKED, SessionStatus.COMPLETED, SessionStatus.NO_SHOW}
)
CHANGEABLE_STATUSES = frozenset({SessionStatus.REQUESTED, SessionStatus.BOOKED})


def check_can_confirm(status: SessionStatus) -> None:
    if status is not SessionStatus.REQUESTED:
        raise Rejected(f"this session is {status.value.replace('_', ' ')} and needs no confirmation")


def check_can_change(status: SessionStatus, *, starts_at: datetime, now: datetime) -> None:
    """Reschedule or cancel: only sessions that are still to come."""
    if status not in CHANGEABLE_STATUSES:
        raise Rejected(f"this session is {status.value.replace('_', ' ')} and can no longer be changed")
    if starts_at <= now:
        raise Rejected("this session has already started and can no longer be changed")


def check_can_record_outcome(status: SessionStatus, *, starts_at: datetime, now: datetime) -> None:
    """Completed or no-show: a booked session, once its start time has come."""
    if status is not SessionStatus.BOOKED:
        raise Rejected(f"this session is {status.value.replace('_', ' ')}: only a booked session can be marked")
    if now < starts_at:
        raise Rejected("you can record the outcome once the session has started")


def keeps_bookings(status: FacilitatorStatus, *, lapsed_keeps: bool, suspended_keeps: bool) -> bool:
    """Whether a facilitator's future sessions stand after a status change (takes no new ones either way)."""
    if status is FacilitatorStatus.LAPSED:
        return lapsed_keeps
    if status is FacilitatorStatus.SUSPENDED:
        return suspended_keeps
    return True


def reminder_due(*, starts_at: datetime, now: datetime, hours_before: int) -> bool:
    return now < starts_at <= now + timedelta(hours=hours_before)


def escalation_due(*, requested_at: datetime, now: datetime, after_days: float) -> bool:
    return now - requested_at >= timedelta(days=after_days)


def lead_for_region(region: str, leads: Mapping[str, UUID]) -> UUID | None:
    """The regional lead responsible for a region (names compared ignoring case and spacing)."""
    wanted = _normalise(region)
    for name, lead_id in leads.items():
        if _normalise(name) == wanted:
            return lead_id
    return None


def format_when(starts_at: datetime, ends_at: datetime, *, tz: ZoneInfo) -> str:
    """'Tuesday 14 January 2027, 10:00 to 12:00 (UK time)' in the service's time zone."""
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    zone = "UK time" if tz.key == "Europe/London" else tz.key
    return f"{start:%A} {start.day} {start:%B %Y}, {start:%H:%M} to {end:%H:%M} ({zone})"
