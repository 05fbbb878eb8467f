"""Parsing what people submit into the journal's typed values (domain) or field errors, each tied
to its field's element id so the error summary links to it; and an entry back into form values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from email_validator import EmailNotValidError, validate_email

from observations.domain import (
    MAX_CONTEXT,
    MAX_EMAIL,
    MAX_IMPACT,
    MAX_NAME,
    MAX_PROGRAMME,
    MAX_WHAT_HAPPENED,
    OLDEST_YEARS,
    Entry,
    FieldError,
    Filter,
    Profile,
    Shown,
    Whose,
)
from shared.contracts.text import multi_line_problem, normalise_newlines, single_line_problem
from shared.contracts.vocabulary import Dimension
from shared.questionnaire import Level


def email_problem(email: str) -> str | None:
    if not email.strip():
        return "Enter your email address"
    if len(email) > MAX_EMAIL or single_line_problem(email) is not None:
        return "Enter an email address in the correct format, like name@nhs.net"
    try:
        validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError:
        return "Enter an email address in the correct format, like name@nhs.net"
    return None


def parse_profile(form: Mapping[str, str]) -> Profile | tuple[FieldError, ...]:
    name = form.get("display_name", "").strip()
    programme = form.get("programme", "").strip()
    errors = []
    if not name:
        errors.append(FieldError("display_name", "Enter the name you would like us to use"))
    elif (problem := single_line_problem(name, max_length=MAX_NAME)) is not None:
        errors.append(FieldError("display_name", f"Your name {problem}"))
    if (problem := single_line_problem(programme, max_length=MAX_PROGRAMME)) is not None:
        errors.append(FieldError("programme", f"Programme {problem}"))
    if errors:
        return tuple(errors)
    return Profile(display_name=name, programme=programme or None)


@dataclass(frozen=True)
class Parsed:
    """A posted observation form: what could be read (kept for a draft or a re-display) and the
    problems that stop it being recorded."""

    entry: Entry
    errors: tuple[FieldError, ...] = field(default_factory=tuple)
    # Fields too long or with forbidden characters: not even a draft can keep them.
    unstorable: bool = False


def dimension_field(dimension: Dimension) -> str:
    return f"level-{dimension.value}"


def _date(form: Mapping[str, str]) -> tuple[date | None, str | None]:
    parts = [form.get(f"observed_on-{part}", "").strip() for part in ("day", "month", "year")]
    if not any(parts):
        return None, "Enter the date you saw it"
    if not all(part.isdigit() and len(part) <= 4 for part in parts):
        return None, "The date must be a real date, like 27 3 2026"
    day, month, year = (int(part) for part in parts)
    try:
        return date(year, month, day), None
    except ValueError:
        return None, "The date must be a real date, like 27 3 2026"


def _shown(form: Mapping[str, str], chosen: list[str]) -> tuple[tuple[Shown, ...], list[FieldError]]:
    shown, errors = [], []
    for dimension in Dimension:
        if dimension.value not in chosen:
            continue
        level = form.get(dimension_field(dimension), "")
        if level in {each.value for each in Level}:
            shown.append(Shown(dimension, Level(level)))
        else:
            errors.append(
                FieldError(f"{dimension_field(dimension)}-1", f"Choose the level shown for {dimension.title.lower()}")
            )
    return tuple(shown), errors


def _text(form: Mapping[str, str], name: str, label: str, limit: int, errors: list[FieldError]) -> tuple[str, bool]:
    value = normalise_newlines(form.get(name, "")).strip()
    problem = multi_line_problem(value, max_length=limit)
    if problem is not None:
        errors.append(FieldError(name, f"{label} {problem}"))
        return "", True
    return value, False


def parse_entry(form: Mapping[str, str], chosen: list[str], *, today: date) -> Parsed:
    """Read a posted observation (`chosen`: the dimension checkboxes ticked) and check it is complete."""
    errors: list[FieldError] = []
    observed_on, date_problem = _date(form)
    if date_problem is None and observed_on is not None:
        if observed_on > today:
            date_problem = "The date must be today or in the past"
        elif observed_on < today.replace(year=today.year - OLDEST_YEARS):
            date_problem = f"The date must be within the last {OLDEST_YEARS} years"
    if date_problem:
        errors.append(FieldError("observed_on-day", date_problem))
    context, bad_context = _text(form, "context", "Context", MAX_CONTEXT, errors)
    whose_value = form.get("whose", "")
    whose = Whose(whose_value) if whose_value in {w.value for w in Whose} else None
    if whose is None:
        errors.append(FieldError("whose-1", "Choose whose behaviour this was"))
    shown, level_errors = _shown(form, chosen)
    if set(chosen) - {d.value for d in Dimension}:  # a tampered form: never silently dropped
        errors.append(FieldError("dimensions-1", "Choose leadership dimensions from the list"))
    elif not chosen:
        errors.append(FieldError("dimensions-1", "Choose at least one leadership dimension"))
    errors += level_errors
    what, bad_what = _text(form, "what_happened", "What happened", MAX_WHAT_HAPPENED, errors)
    if not what and not bad_what:
        errors.append(FieldError("what_happened", "Describe what happened"))
    impact, bad_impact = _text(form, "impact", "Impact", MAX_IMPACT, errors)
    entry = Entry(observed_on if not date_problem else None, context, whose, shown, what, impact)
    return Parsed(entry=entry, errors=tuple(errors), unstorable=bad_context or bad_what or bad_impact)


def form_values(entry: Entry) -> dict[str, str]:
    """An entry as the form's field values, to fill the form in again."""
    values = {
        "context": entry.context,
        "whose": entry.whose.value if entry.whose else "",
        "what_happened": entry.what_happened,
        "impact": entry.impact,
    }
    if entry.observed_on is not None:
        values |= {
            "observed_on-day": str(entry.observed_on.day),
            "observed_on-month": str(entry.observed_on.month),
            "observed_on-year": str(entry.observed_on.year),
        }
    for shown in entry.shown:
        values[dimension_field(shown.dimension)] = shown.level.value
    return values


def _iso_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value and len(value) == 10 else None
    except ValueError:
        return None


def parse_filter(query: Mapping[str, str]) -> tuple[Filter, tuple[FieldError, ...]]:
    """The list's filter from its query string; anything unreadable is reported and ignored."""
    errors = []
    dimension_value = query.get("dimension", "")
    dimension = Dimension(dimension_value) if dimension_value in {d.value for d in Dimension} else None
    if dimension_value and dimension is None:
        errors.append(FieldError("dimension", "Choose a dimension from the list"))
    dates = {}
    for name, label in (("from", "From"), ("to", "To")):
        raw = query.get(name, "").strip()
        dates[name] = _iso_date(raw)
        if raw and dates[name] is None:
            errors.append(FieldError(name, f"{label} must be a date like 2026-03-27"))
    if dates["from"] and dates["to"] and dates["from"] > dates["to"]:
        errors.append(FieldError("to", "To must be the same as or after from"))
        dates["to"] = None
    return Filter(dimension, dates["from"], dates["to"]), tuple(errors)
