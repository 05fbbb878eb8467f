"""Parsing what people submit into typed values or field errors: the start page's form, a new
deadline, a replacement nomination, and the rows of a cohort CSV file.

Cohort files (`python -m invitations import-cohort`, see cli.py): a header row is required, with
the columns participant_id, given_name, family_name, email, organisation, region, line_manager_name,
line_manager_email, peers, direct_reports, others. The last three hold "Name <email>" entries
separated by ";". Optional columns deadline (YYYY-MM-DD), funding_method, funding_reference and
facilitator_id override the command-line values for that row; optional preferred_language (an ISO
639 code such as en or cy, or bsl) and management_line (work emails of the line manager and the
managers above them, separated by ";") describe the participant. The cycle id is derived from
programme + participant_id, so running the same file twice adds nothing.

The file must be UTF-8 (Excel: "CSV UTF-8") and at most 10 MB, or nothing is imported; so too
when a field is longer than the CSV reader takes (usually a quote left open). A row with the wrong
number of fields, broken quoting, a control or line-separator character in a field (a new line
inside a quoted field included), or a field that is too long for its column is reported by its
line number with a reason that never repeats the value; the other rows still import.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4, uuid5

from pydantic import ValidationError

from invitations.config import Settings
from invitations.domain import (
    SESSION_LANGUAGES,
    NominationLimits,
    Nominee,
    closing_time,
    cohort_cycle_id,
    deadline_problem,
    email_is_valid,
    funding_problem,
    language_code,
    management_line_problems,
    nomination_problems,
    normalise_email,
    verified_participant_id,
)
from shared.contracts.events import PERSON_NAME_MAX, CycleRequested, Funding, Participant, RaterNomination
from shared.contracts.text import SHORT_TEXT_MAX, single_line_problem
from shared.contracts.vocabulary import FundingMethod, RaterGroup
from shared.inbound import validation_reason

log = logging.getLogger(__name__)

# --- the start page ---------------------------------------------------------------------------

REGIONS = (
    "East of England",
    "London",
    "Midlands",
    "North East and Yorkshire",
    "North West",
    "South East",
    "South West",
)
ROWS = {
    RaterGroup.PEER: ("peer", "Peer", 6),
    RaterGroup.DIRECT_REPORT: ("report", "Direct report", 6),
    RaterGroup.OTHER: ("other", "Other colleague", 4),
}
CHECK_ANSWERS = "Some details could not be accepted; check every answer and try again"
CHECK_ANSWER = "This answer could not be accepted; check it and try again"
# (form key, field id, label, message when empty (None: optional), maximum length)
START_TEXT_FIELDS = (
    ("given_name", "given-name", "First name", "Enter your first name", PERSON_NAME_MAX),
    ("family_name", "family-name", "Last name", "Enter your last name", PERSON_NAME_MAX),
    ("organisation", "organisation", "Organisation", "Enter the organisation you work for", SHORT_TEXT_MAX),
    ("programme", "programme", "Leadership programme", None, SHORT_TEXT_MAX),
)
_PARTICIPANT_FIELD_IDS = {
    "given_name": "given-name",
    "family_name": "family-name",
    "email": "email",
    "organisation": "organisation",
    "region": "region",
    "management_line": "lm-manager-email",
    "preferred_language": "preferred-language",
}


@dataclass
class StartForm:
    values: dict[str, str]
    errors: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def submitted(cls, raw: Mapping[str, Any]) -> StartForm:
        """A submitted form's text fields, trimmed (uploads are ignored)."""
        return cls(values={key: str(value).strip() for key, value in raw.items() if isinstance(value, str)})

    def error_for(self, field_id: str) -> str | None:
        return next((message for fid, message in self.errors if fid == field_id), None)

    def add(self, field_id: str, message: str) -> None:
        if self.error_for(field_id) is None:
            self.errors.append((field_id, message))


@dataclass
class _Nominations:
    """The start page's rater rows as nominees, with each row's field id and label."""

    nominees: list[Nominee] = field(default_factory=list)
    field_ids: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


def read_start_form(
    form: StartForm, *, settings: Settings, limits: NominationLimits
) -> tuple[CycleRequested | None, bool | None]:
    """The start page's answers as the intake event, and whether anyone reports to the participant;
    no event when an answer is wrong (each error is added to the form, against its field)."""
    _check_participant(form)
    deadline = read_date(form, prefix="deadline", legend="the date feedback closes")
    if deadline is not None and (
        problem := deadline_problem(
            deadline=deadline,
            now=datetime.now(UTC),
            min_hours=settings.min_deadline_hours,
            max_days=settings.max_deadline_days,
        )
    ):
        form.add("deadline-day", _sentence(problem))
    has_reports = {"yes": True, "no": False}.get(form.values.get("has_reports", ""))
    if has_reports is None:
        form.add("has-reports-1", "Select yes if anyone reports to you")
    rows = _read_nominations(form, limits=limits, has_reports=has_reports)
    language, senior = _read_session_and_line(form)
    method, facilitator_id, cycle_id = _read_funding_and_choices(form)
    if form.errors or deadline is None or method is None:
        return None, has_reports
    v = form.values
    address = v["email"]
    try:
        event = CycleRequested(
            producer="invitations-web",
            cycle_id=cycle_id,
            participant=Participant(
                participant_id=verified_participant_id(address),
                given_name=v["given_name"],
                family_name=v["family_name"],
                email=address,
                organisation=v["organisation"],
                region=v["region"],
                management_line=[senior] if senior else [],
                preferred_language=language or None,
            ),
            programme=v.get("programme") or None,
            facilitator_id=facilitator_id,
            deadline=deadline,
            funding=Funding(method=method, reference=v["funding_reference"]),
            raters=[RaterNomination(group=n.group, name=n.name, email=n.email) for n in rows.nominees],  # type: ignore[arg-type]
        )
    except ValidationError as error:
        # the checks above should have caught it: name the field, never the value
        log.info("start form failed contract validation", extra={"fields": error_fields(error)})
        for item in error.errors(include_input=False):
            form.add(_start_field_id(item["loc"], rows.field_ids), CHECK_ANSWER)
        return None, has_reports
    return event, has_reports


def _check_participant(form: StartForm) -> None:
    v = form.values
    for key, field_id, label, missing, limit in START_TEXT_FIELDS:
        if not v.get(key):
            if missing:
                form.add(field_id, missing)
        elif problem := single_line_problem(v[key], max_length=limit):
            form.add(field_id, f"{label} {problem}")
    if not email_is_valid(v.get("email", "")):
        form.add("email", "Enter your email address, like name@example.nhs.uk")
    if v.get("region") not in REGIONS:
        form.add("region", "Select your NHS region")


def _read_nominations(form: StartForm, *, limits: NominationLimits, has_reports: bool | None) -> _Nominations:
    v = form.values
    rows = _Nominations()

    def row(group: RaterGroup, prefix: str, label: str, required: bool = False) -> None:
        name, address = v.get(f"{prefix}_name", ""), v.get(f"{prefix}_email", "")
        if name or address or required:
            rows.nominees.append(Nominee(group=group, name=name, email=address))
            rows.field_ids.append(prefix.replace("_", "-"))
            rows.labels.append(label)

    row(RaterGroup.LINE_MANAGER, "lm", "Your line manager", required=True)
    for group, (prefix, label, count) in ROWS.items():
        for number in range(1, count + 1):
            row(group, f"{prefix}_{number}", f"{label} {number}")

    def label_of(match: re.Match[str]) -> str:
        return rows.labels[int(match.group(1)) - 1]

    for issue in nomination_problems(
        participant_email=v.get("email", "") if email_is_valid(v.get("email", "")) else "",
        nominees=rows.nominees,
        limits=limits,
        has_direct_reports=has_reports,
    ):
        message = _sentence(re.sub(r"rater (\d+)", label_of, issue.message))
        if issue.index is not None:
            form.add(f"{rows.field_ids[issue.index]}-{issue.part if issue.part != 'group' else 'name'}", message)
        elif "line manager" in message:
            form.add("lm-name", message)
        elif "direct report" in message:
            form.add("report-1-name" if has_reports else "has-reports-1", message)
        else:
            form.add("peer-1-name", message)
    return rows


def _read_session_and_line(form: StartForm) -> tuple[str, str]:
    """The session language and the line manager's manager, as given (checked)."""
    v = form.values
    language = v.get("preferred_language", "")
    if language and language not in SESSION_LANGUAGES:
        form.add("preferred-language", "Select the language for your feedback session from the list")
    senior = v.get("lm_manager_email", "")
    if senior:
        if not email_is_valid(senior):
            form.add(
                "lm-manager-email",
                "Enter your line manager's manager's work email address, like name@example.nhs.uk, or leave it empty",
            )
        elif normalise_email(senior) == normalise_email(v.get("email", "")):
            form.add("lm-manager-email", "Enter your line manager's manager's email address, not your own")
        elif normalise_email(senior) == normalise_email(v.get("lm_email", "")):
            form.add(
                "lm-manager-email",
                "This is your line manager's email address: enter their manager's, or leave it empty",
            )
    return language, senior


def _read_funding_and_choices(form: StartForm) -> tuple[FundingMethod | None, UUID | None, UUID]:
    """How the 360 is paid for, the chosen facilitator, and the form's cycle id (a double submit
    of the same form opens one 360)."""
    v = form.values
    method = next((m for m in FundingMethod if m.value == v.get("funding_method")), None)
    if method is None:
        form.add("funding-method-1", "Select how your 360 is paid for")
    elif problem_text := funding_problem(method=method, reference=v.get("funding_reference", "")):
        form.add("funding-reference", _sentence(problem_text))
    facilitator_id: UUID | None = None
    if chosen := v.get("facilitator"):
        try:
            facilitator_id = UUID(chosen)
        except ValueError:
            form.add("facilitator-1", "Select a facilitator from the list, or choose later")
    try:
        cycle_id = UUID(v.get("cycle_id", ""))
    except ValueError:
        cycle_id = uuid4()
        v["cycle_id"] = str(cycle_id)
    return method, facilitator_id, cycle_id


def _start_field_id(loc: tuple[int | str, ...], rater_field_ids: list[str]) -> str:
    """The start page's field for a place in CycleRequested (the error summary links to it)."""
    match loc:
        case ("participant", str(name), *_) if name in _PARTICIPANT_FIELD_IDS:
            return _PARTICIPANT_FIELD_IDS[name]
        case ("programme", *_):
            return "programme"
        case ("funding", *_):
            return "funding-reference"
        case ("raters", int(index), part, *_) if index < len(rater_field_ids):
            return f"{rater_field_ids[index]}-{'email' if part == 'email' else 'name'}"
    return "given-name"


def start_error_field(message: str) -> str:
    """The start page's field a refusal from opening the 360 is shown against."""
    return "funding-reference" if "credit" in message else "facilitator-1" if "facilitator" in message else "given-name"


def read_date(form: StartForm, *, prefix: str, legend: str) -> datetime | None:
    """A day entered as day, month and year fields, closing at 5pm UK time."""
    parts = [form.values.get(f"{prefix}_{p}", "") for p in ("day", "month", "year")]
    if not any(parts):
        form.add(f"{prefix}-day", f"Enter {legend}")
        return None
    try:  # OverflowError: a year such as 99999999999999999999 is an int but no date
        day, month, year = (int(p) for p in parts)
        return closing_time(date(year, month, day))
    except (ValueError, OverflowError):
        form.add(f"{prefix}-day", f"Enter {legend} as a real date, for example 27 3 2027")
        return None


def replacement_name_problem(name: str, errors: list[tuple[str, str]]) -> None:
    """A replacement's name that is not one line of text (added first, unless the name is already wrong)."""
    if name and not any(field_id == "name" for field_id, _ in errors) and (problem := single_line_problem(name)):
        errors.insert(0, ("name", f"Their name {problem}"))


def error_fields(error: ValidationError) -> list[str]:
    """The fields a validation error names, never what was in them (for logs)."""
    return [".".join(str(part) for part in item["loc"]) for item in error.errors(include_input=False)]


def _sentence(message: str) -> str:
    return message[0].upper() + message[1:]


# --- cohort CSV files -------------------------------------------------------------------------

REQUIRED = (
    "participant_id",
    "given_name",
    "family_name",
    "email",
    "organisation",
    "region",
    "line_manager_name",
    "line_manager_email",
)
GROUP_COLUMNS = {"peers": "peer", "direct_reports": "direct_report", "others": "other"}
OPTIONAL = (
    "deadline",
    "funding_method",
    "funding_reference",
    "facilitator_id",
    "preferred_language",
    "management_line",
)
PERSON = re.compile(r"^\s*(?P<name>[^<>]+?)\s*<\s*(?P<email>[^<>\s]+)\s*>\s*$")
MAX_FILE_BYTES = 10_000_000
# longest value each column may hold (a list column holds up to 50 "Name <email>" entries)
MAX_LIST_CHARS = 50 * (SHORT_TEXT_MAX + 260)
MAX_CHARS = {
    "given_name": PERSON_NAME_MAX,
    "family_name": PERSON_NAME_MAX,
    "email": 254,
    "line_manager_email": 254,
    "peers": MAX_LIST_CHARS,
    "direct_reports": MAX_LIST_CHARS,
    "others": MAX_LIST_CHARS,
    "management_line": 20 * 260,
}


@dataclass(frozen=True)
class CohortDefaults:
    programme: str
    deadline: date | None
    funding_method: str | None
    funding_reference: str | None
    facilitator_id: str | None = None


class BadRow(Exception):
    pass


def row_to_request(row: dict[str, str], *, defaults: CohortDefaults) -> CycleRequested:
    """One CSV row as the intake event; BadRow says what is wrong in words an operator can act on."""
    missing = [c for c in REQUIRED if not (row.get(c) or "").strip()]
    if missing:
        raise BadRow("missing " + ", ".join(missing))
    for column in (*REQUIRED, *GROUP_COLUMNS, *OPTIONAL):  # other columns are ignored
        value = (row.get(column) or "").strip()
        if problem := single_line_problem(value, max_length=MAX_CHARS.get(column, SHORT_TEXT_MAX)):
            raise BadRow(f"{column} {problem}")
    raters: list[dict[str, str]] = [
        {"group": "line_manager", "name": row["line_manager_name"], "email": row["line_manager_email"]}
    ]
    for column, group in GROUP_COLUMNS.items():
        for position, entry in enumerate(p for p in (row.get(column) or "").split(";") if p.strip()):
            match = PERSON.match(entry)
            if not match:
                raise BadRow(f"{column} entry {position + 1} is not written as Name <email>")
            if problem := single_line_problem(match["name"], max_length=SHORT_TEXT_MAX):
                raise BadRow(f"{column} entry {position + 1}: the name {problem}")
            raters.append({"group": group, "name": match["name"], "email": match["email"]})
    deadline_text = (row.get("deadline") or "").strip()
    try:
        day = date.fromisoformat(deadline_text) if deadline_text else defaults.deadline
    except ValueError as error:
        raise BadRow("deadline is not a date like 2027-03-26") from error
    if day is None:
        raise BadRow("no deadline (give --deadline or a deadline column)")
    language_text = (row.get("preferred_language") or "").strip()
    language = language_code(language_text) if language_text else None
    if language_text and language is None:
        raise BadRow("preferred_language is not a language code such as en, cy or bsl")
    line = [_address(p) for p in (row.get("management_line") or "").split(";") if p.strip()]
    if problems := management_line_problems(participant_email=row["email"], emails=line):
        raise BadRow("management_line " + "; ".join(problems))
    programme = defaults.programme
    cycle_id = cohort_cycle_id(programme=programme, participant_id=row["participant_id"])
    body: dict[str, Any] = {
        "producer": "invitations-cohort-import",
        "event_id": uuid5(cycle_id, "cohort-import"),
        "cycle_id": cycle_id,
        "participant": {
            **{k: row[k] for k in ("participant_id", "given_name", "family_name", "email", "organisation", "region")},
            "management_line": line,
            "preferred_language": language,
        },
        "programme": programme,
        "deadline": closing_time(day),
        "funding": {
            "method": (row.get("funding_method") or "").strip() or defaults.funding_method,
            "reference": (row.get("funding_reference") or "").strip() or defaults.funding_reference,
        },
        "facilitator_id": (row.get("facilitator_id") or "").strip() or defaults.facilitator_id,
        "raters": raters,
    }
    try:
        return CycleRequested.model_validate(body)
    except ValidationError as error:
        raise BadRow(validation_reason(error).removeprefix("invalid event: ")) from error


def _address(entry: str) -> str:
    """An email address written alone or as Name <email>."""
    match = PERSON.match(entry)
    return (match["email"] if match else entry).strip()


def read_rows(data: bytes) -> tuple[list[tuple[int, dict[str, str]]], list[tuple[int, str]]]:
    """The rows of a cohort file by line number, and the lines that are not rows (with a reason).

    BadRow when the whole file cannot be read: too large, not UTF-8, no usable header row."""
    if len(data) > MAX_FILE_BYTES:
        raise BadRow(f"the file is larger than {MAX_FILE_BYTES // 1_000_000} MB; split the cohort into smaller files")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise BadRow(f"the file is not UTF-8 text (first at line {line}); save it as CSV UTF-8") from error
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as error:
        raise BadRow(f"the header row is not valid CSV ({error})") from error
    absent = [c for c in REQUIRED if c not in header]
    if absent:
        raise BadRow(f"the header row has no column(s): {', '.join(absent)}")
    rows: list[tuple[int, dict[str, str]]] = []
    bad: list[tuple[int, str]] = []
    while True:
        line = reader.line_num + 1  # a quoted field may go on over several lines: report the first
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            if "field limit" in str(error):
                # mostly a quote left open, so that the rest of the file reads as one field: the
                # rows after it cannot be trusted
                raise BadRow(
                    f"line {line} has a field longer than {csv.field_size_limit():,} characters "
                    "(is a closing quote missing?); nothing was imported"
                ) from error
            bad.append((line, f"is not valid CSV ({error})"))
            continue
        if not fields:
            continue  # a blank line
        if len(fields) != len(header):
            bad.append((line, f"has {len(fields)} fields but the header row has {len(header)}"))
            continue
        rows.append((line, dict(zip(header, fields, strict=True))))
    return rows, bad
