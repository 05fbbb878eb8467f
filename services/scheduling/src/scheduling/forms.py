"""Reading the pages' forms (pure): each parser returns the typed values or a list of
(field id, message) errors, in page order, for the NHS.UK error summary. Nothing typed is lost:
pages re-display the submitted values next to the errors."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from uuid import UUID

from scheduling.domain import ELEARNING_PASS_MARK, LANGUAGE_NAMES, FacilitatorStatus
from shared.contracts.text import multi_line_problem, normalise_newlines, single_line_problem

Errors = list[tuple[str, str]]
Values = Mapping[str, str]
MultiValues = Mapping[str, Sequence[str]]

DURATIONS = (
    ("60", "1 hour"),
    ("90", "1 hour 30 minutes"),
    ("120", "2 hours"),
    ("150", "2 hours 30 minutes"),
    ("180", "3 hours"),
)
SESSION_MODES = {"virtual": "Online (video call)", "in_person": "In person"}
CALLOUT_MODES = {"virtual": "Online (video call)", "in_person": "In person", "either": "Online or in person"}
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
MAX_WEEKS = 12
MAX_TEXT = 2000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TIME = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*$")


@dataclass
class Parsed:
    errors: Errors = field(default_factory=list)

    def error(self, field_id: str, message: str) -> None:
        self.errors.append((field_id, message))


def text(
    values: Values,
    name: str,
    *,
    label: str,
    parsed: Parsed,
    required: bool = True,
    max_length: int = 200,
    multi_line: bool = False,
) -> str:
    """Single-line text (no control or line-separator characters), or free text when `multi_line`
    (new lines kept, CRLF made LF)."""
    value = values.get(name, "")
    value = normalise_newlines(value).strip() if multi_line else value.strip()
    check = multi_line_problem if multi_line else single_line_problem
    if required and not value:
        parsed.error(name, f"Enter {label}")
    elif problem := check(value, max_length=max_length):
        parsed.error(name, f"{label[0].upper()}{label[1:]} {problem}")
    return value


def whole_number(values: Values, name: str, *, label: str, parsed: Parsed, low: int, high: int) -> int | None:
    raw = values.get(name, "").strip()
    if not raw:
        parsed.error(name, f"Enter {label}")
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        parsed.error(name, f"{label[0].upper()}{label[1:]} must be a whole number from {low} to {high}")
        return None
    return int(raw)


def choice(
    values: Values,
    name: str,
    *,
    options: Mapping[str, str] | Sequence[str],
    message: str,
    parsed: Parsed,
    field_id: str | None = None,
) -> str | None:
    value = values.get(name, "")
    if value not in options:
        parsed.error(field_id or f"{name}-1", message)
        return None
    return value


def date_input(values: Values, prefix: str, *, label: str, parsed: Parsed) -> date | None:
    """NHS.UK date input: three fields `<prefix>-day`, `-month`, `-year`."""
    parts = [values.get(f"{prefix}-{part}", "").strip() for part in ("day", "month", "year")]
    if not any(parts):
        parsed.error(f"{prefix}-day", f"Enter {label}")
        return None
    missing = [name for name, part in zip(("day", "month", "year"), parts, strict=True) if not part]
    if missing:
        parsed.error(f"{prefix}-{missing[0]}", f"{label[0].upper()}{label[1:]} must include a {missing[0]}")
        return None
    if not all(part.isdigit() for part in parts) or len(parts[2]) != 4:
        parsed.error(f"{prefix}-day", f"{label[0].upper()}{label[1:]} must be a real date, like 14 1 2027")
        return None
    try:
        return date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError:
        parsed.error(f"{prefix}-day", f"{label[0].upper()}{label[1:]} must be a real date, like 14 1 2027")
        return None


def time_input(values: Values, name: str, *, label: str, parsed: Parsed) -> time | None:
    raw = values.get(name, "")
    if not raw.strip():
        parsed.error(name, f"Enter {label}")
        return None
    match = _TIME.match(raw)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        parsed.error(name, f"{label[0].upper()}{label[1:]} must be a 24-hour time, like 09:30 or 14:00")
        return None
    return time(int(match.group(1)), int(match.group(2)))


# --- facilitator pages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AvailabilityInput:
    first_day: date
    start: time
    minutes: int
    mode: str
    location: str | None
    weeks: int


def parse_availability(values: Values, *, today: date) -> AvailabilityInput | Errors:
    parsed = Parsed()
    day = date_input(values, "date", label="the date of the first session", parsed=parsed)
    if day is not None and day <= today:
        parsed.error("date-day", "The date of the first session must be in the future")
    start = time_input(values, "start", label="the start time", parsed=parsed)
    minutes_raw = choice(
        values, "minutes", options=dict(DURATIONS), message="Select how long the session is", parsed=parsed
    )
    mode = choice(values, "mode", options=SESSION_MODES, message="Select online or in person", parsed=parsed)
    location = text(
        values, "location", label="where the session takes place", parsed=parsed, required=mode == "in_person"
    )
    weeks = whole_number(values, "weeks", label="how many weeks to repeat it", parsed=parsed, low=1, high=MAX_WEEKS)
    if parsed.errors:
        return parsed.errors
    assert day and start and minutes_raw and mode and weeks
    return AvailabilityInput(
        first_day=day, start=start, minutes=int(minutes_raw), mode=mode, location=location or None, weeks=weeks
    )


def parse_volunteer(values: Values) -> int | Errors:
    parsed = Parsed()
    sessions = whole_number(values, "sessions", label="how many sessions you can offer", parsed=parsed, low=1, high=50)
    return parsed.errors if sessions is None else sessions


@dataclass(frozen=True)
class InterestInput:
    mode: str
    months: list[str]
    topics: str | None


def parse_interest(values: Values, months: Sequence[str]) -> InterestInput | Errors:
    parsed = Parsed()
    mode = choice(values, "mode", options=CALLOUT_MODES, message="Select how you would like to attend", parsed=parsed)
    chosen = [m for m in MONTHS if m in set(months)]
    if not chosen:
        parsed.error("months-1", "Select at least one month")
    topics = text(values, "topics", label="topics", parsed=parsed, required=False, max_length=MAX_TEXT, multi_line=True)
    if parsed.errors:
        return parsed.errors
    assert mode
    return InterestInput(mode=mode, months=chosen, topics=topics or None)


# --- regional lead pages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CalloutInput:
    title: str
    details: str
    mode: str
    period_start: date
    period_end: date
    participants: int
    register_by: date


def parse_callout(values: Values, *, today: date) -> CalloutInput | Errors:
    parsed = Parsed()
    title = text(values, "title", label="a title", parsed=parsed)
    details = text(
        values, "details", label="what facilitators are needed for", parsed=parsed, max_length=MAX_TEXT, multi_line=True
    )
    mode = choice(values, "mode", options=CALLOUT_MODES, message="Select how the sessions take place", parsed=parsed)
    start = date_input(values, "start", label="the first day sessions are needed", parsed=parsed)
    end = date_input(values, "end", label="the last day sessions are needed", parsed=parsed)
    if start and end and end < start:
        parsed.error("end-day", "The last day must be the same as or after the first day")
    participants = whole_number(
        values, "participants", label="the number of participants", parsed=parsed, low=1, high=1000
    )
    register_by = date_input(values, "register", label="the date to volunteer by", parsed=parsed)
    if register_by and register_by < today:
        parsed.error("register-day", "The date to volunteer by must be today or in the future")
    if parsed.errors:
        return parsed.errors
    assert mode and start and end and participants and register_by
    return CalloutInput(
        title=title,
        details=details,
        mode=mode,
        period_start=start,
        period_end=end,
        participants=participants,
        register_by=register_by,
    )


@dataclass(frozen=True)
class CpdEventInput:
    title: str
    day: date
    start: time
    end: time
    venue: str
    places: int


def parse_cpd_event(values: Values, *, today: date) -> CpdEventInput | Errors:
    parsed = Parsed()
    title = text(values, "title", label="a title", parsed=parsed)
    day = date_input(values, "date", label="the date of the event", parsed=parsed)
    if day is not None and day <= today:
        parsed.error("date-day", "The date of the event must be in the future")
    start = time_input(values, "start", label="the start time", parsed=parsed)
    end = time_input(values, "end", label="the end time", parsed=parsed)
    if start and end and end <= start:
        parsed.error("end", "The end time must be after the start time")
    venue = text(values, "venue", label="the place (an address, or 'Online')", parsed=parsed)
    places = whole_number(values, "places", label="the number of places", parsed=parsed, low=1, high=500)
    if parsed.errors:
        return parsed.errors
    assert day and start and end and places
    return CpdEventInput(title=title, day=day, start=start, end=end, venue=venue, places=places)


def parse_attendance(values: MultiValues, *, registered: Sequence[UUID]) -> set[UUID]:
    """Ticked facilitators among those registered (anything else is ignored)."""
    ticked = set(values.get("attended", ()))
    return {facilitator_id for facilitator_id in registered if str(facilitator_id) in ticked}


@dataclass(frozen=True)
class AccreditationInput:
    score: int
    passed_on: date
    course_on: date


def _accreditation(values: Values, parsed: Parsed, *, today: date, required: bool) -> AccreditationInput | None:
    given = any(
        values.get(k, "").strip()
        for k in (
            "score",
            "elearning-day",
            "elearning-month",
            "elearning-year",
            "course-day",
            "course-month",
            "course-year",
        )
    )
    if not required and not given:
        return None
    score = whole_number(values, "score", label="the e-learning score", parsed=parsed, low=0, high=100)
    if score is not None and score < ELEARNING_PASS_MARK:
        parsed.error(
            "score",
            f"The e-learning pass mark is {ELEARNING_PASS_MARK}%: a facilitator with {score}% is not accredited",
        )
    passed = date_input(values, "elearning", label="the date the e-learning was passed", parsed=parsed)
    course = date_input(values, "course", label="the date of the one-day course", parsed=parsed)
    for prefix, day in (("elearning", passed), ("course", course)):
        if day is not None and day > today:
            parsed.error(f"{prefix}-day", "The date must be today or in the past")
    if passed and course and course < passed:
        parsed.error("course-day", "The one-day course comes after passing the e-learning")
    if score is None or passed is None or course is None:
        return None
    return AccreditationInput(score=score, passed_on=passed, course_on=course)


def parse_accreditation(values: Values, *, today: date) -> AccreditationInput | Errors:
    parsed = Parsed()
    result = _accreditation(values, parsed, today=today, required=True)
    return parsed.errors if parsed.errors or result is None else result


@dataclass(frozen=True)
class FacilitatorInput:
    name: str
    email: str
    phone: str | None
    organisation: str
    languages: list[str]
    monthly_capacity: int
    accreditation: AccreditationInput | None
    line_manager_email: str | None = None


def parse_facilitator(values: Values, languages: Sequence[str], *, today: date) -> FacilitatorInput | Errors:
    parsed = Parsed()
    name = text(values, "name", label="the facilitator's full name", parsed=parsed)
    email = text(values, "email", label="the facilitator's email address", parsed=parsed)
    if email and not _EMAIL.match(email):
        parsed.error("email", "Enter an email address in the correct format, like name@example.nhs.uk")
    phone = text(values, "phone", label="a phone number", parsed=parsed, required=False, max_length=30)
    organisation = text(values, "organisation", label="the facilitator's organisation", parsed=parsed)
    line_manager = text(
        values, "line_manager_email", label="their line manager's email address", parsed=parsed, required=False
    )
    if line_manager and not _EMAIL.match(line_manager):
        parsed.error(
            "line_manager_email",
            "Enter their line manager's email address in the correct format, like name@example.nhs.uk",
        )
    elif line_manager and email and line_manager.casefold() == email.casefold():
        parsed.error("line_manager_email", "Enter their line manager's email address, not the facilitator's own")
    chosen = [code for code in LANGUAGE_NAMES if code in set(languages)]
    if not chosen:
        parsed.error("languages-1", "Select at least one language the facilitator can give feedback in")
    capacity = whole_number(values, "capacity", label="the number of sessions a month", parsed=parsed, low=0, high=100)
    accreditation = _accreditation(values, parsed, today=today, required=False)
    if parsed.errors:
        return parsed.errors
    assert capacity is not None
    return FacilitatorInput(
        name=name,
        email=email.lower(),
        phone=phone or None,
        organisation=organisation,
        languages=chosen,
        monthly_capacity=capacity,
        accreditation=accreditation,
        line_manager_email=line_manager.lower() or None,
    )


@dataclass(frozen=True)
class RegionalLeadInput:
    region: str
    name: str
    email: str


def parse_regional_lead(values: Values) -> RegionalLeadInput | Errors:
    """A region's lead (the operator's `regional-lead set` command; later the operator console)."""
    parsed = Parsed()
    region = " ".join(text(values, "region", label="the region", parsed=parsed, max_length=100).split())
    name = text(values, "name", label="the regional lead's full name", parsed=parsed)
    email = text(values, "email", label="the regional lead's email address", parsed=parsed)
    if email and not _EMAIL.match(email):
        parsed.error("email", "Enter an email address in the correct format, like name@example.nhs.uk")
    if parsed.errors:
        return parsed.errors
    return RegionalLeadInput(region=region, name=name, email=email.lower())


def parse_status(values: Values) -> FacilitatorStatus | Errors:
    parsed = Parsed()
    status = choice(
        values,
        "status",
        options=[s.value for s in FacilitatorStatus],
        message="Select the facilitator's status",
        parsed=parsed,
    )
    return parsed.errors if status is None else FacilitatorStatus(status)


def parse_uuid(raw: str | None) -> UUID | None:
    try:
        return UUID(raw) if raw else None
    except ValueError:
        return None
