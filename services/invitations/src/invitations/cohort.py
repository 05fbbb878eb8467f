"""Operator commands: import a whole cohort from CSV, and manage programme credits.

    python -m invitations import-cohort cohort.csv --programme "Mary Seacole 2027 C1" \\
        --deadline 2027-03-26 --funding-method programme_credit --funding-reference MSP-2027-C1
    python -m invitations credits top-up MSP-2027-C1 --programme "Mary Seacole 2027 C1" --credits 40
    python -m invitations credits show MSP-2027-C1

CSV columns (header row required): participant_id, given_name, family_name, email, organisation,
region, line_manager_name, line_manager_email, peers, direct_reports, others. The last three hold
"Name <email>" entries separated by ";". Optional columns deadline (YYYY-MM-DD), funding_method,
funding_reference and facilitator_id override the command-line values for that row; optional
preferred_language (an ISO 639 code such as en or cy, or bsl) and management_line (work emails of
the line manager and the managers above them, separated by ";") describe the participant.
Each row is one transaction through the same use case as the Kafka intake and the web page; the
cycle id is derived from programme + participant_id, so running the same file twice adds nothing.

The file must be UTF-8 (Excel: "CSV UTF-8") and at most 10 MB, or nothing is imported; so too
when a field is longer than the CSV reader takes (usually a quote left open). A row with the wrong
number of fields, broken quoting, a control or line-separator character in a field (a new line
inside a quoted field included), or a field that is too long for its column is reported by its
line number with a reason that never repeats the value; the other rows still import.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.exc import IntegrityError

from invitations import usecases
from invitations.config import Settings
from invitations.domain import cohort_cycle_id, language_code, management_line_problems
from invitations.emails import LONDON
from shared.contracts.events import PERSON_NAME_MAX, CycleRequested
from shared.contracts.text import SHORT_TEXT_MAX, single_line_problem
from shared.db import UnitOfWork, create_engine, session_factory
from shared.errors import Rejected
from shared.messaging import validation_reason

REQUIRED = ("participant_id", "given_name", "family_name", "email", "organisation", "region",
            "line_manager_name", "line_manager_email")
GROUP_COLUMNS = {"peers": "peer", "direct_reports": "direct_report", "others": "other"}
OPTIONAL = ("deadline", "funding_method", "funding_reference", "facilitator_id", "preferred_language",
            "management_line")
PERSON = re.compile(r"^\s*(?P<name>[^<>]+?)\s*<\s*(?P<email>[^<>\s]+)\s*>\s*$")
CLOSES_AT = time(17, 0)
MAX_FILE_BYTES = 10_000_000
# longest value each column may hold (a list column holds up to 50 "Name <email>" entries)
MAX_LIST_CHARS = 50 * (SHORT_TEXT_MAX + 260)
MAX_CHARS = {"given_name": PERSON_NAME_MAX, "family_name": PERSON_NAME_MAX, "email": 254,
             "line_manager_email": 254, "peers": MAX_LIST_CHARS, "direct_reports": MAX_LIST_CHARS,
             "others": MAX_LIST_CHARS, "management_line": 20 * 260}


@dataclass
class ImportResult:
    imported: int = 0
    already_present: int = 0
    bad_rows: list[tuple[int, str]] = field(default_factory=list)


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
        "deadline": datetime.combine(day, CLOSES_AT, tzinfo=LONDON).astimezone(UTC),
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
                raise BadRow(f"line {line} has a field longer than {csv.field_size_limit():,} characters "
                             "(is a closing quote missing?); nothing was imported") from error
            bad.append((line, f"is not valid CSV ({error})"))
            continue
        if not fields:
            continue  # a blank line
        if len(fields) != len(header):
            bad.append((line, f"has {len(fields)} fields but the header row has {len(header)}"))
            continue
        rows.append((line, dict(zip(header, fields, strict=True))))
    return rows, bad


def read_file(path: Path) -> tuple[list[tuple[int, dict[str, str]]], list[tuple[int, str]]]:
    with path.open("rb") as handle:
        return read_rows(handle.read(MAX_FILE_BYTES + 1))  # no more than the limit is ever read


async def import_cohort(
    path: Path, *, defaults: CohortDefaults, settings: Settings, console: Console | None = None
) -> ImportResult:
    console = console or Console(stderr=True)
    rows, unreadable = await asyncio.to_thread(read_file, path)
    result = ImportResult(bad_rows=unreadable)
    engine = create_engine(settings.database_url.get_secret_value(), pool_size=2)
    sessions = session_factory(engine)
    try:
        with Progress(
            TextColumn("[bold]Importing cohort"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("rows", total=len(rows))
            for line, row in rows:
                try:
                    request = row_to_request(row, defaults=defaults)
                    async with UnitOfWork(sessions) as uow:
                        created = await usecases.open_cycle(uow, request, settings=settings)
                        await uow.commit()
                except (BadRow, Rejected) as problem:
                    result.bad_rows.append((line, str(problem)))
                except IntegrityError:
                    result.already_present += 1
                else:
                    if created:
                        result.imported += 1
                    else:
                        result.already_present += 1
                progress.advance(task)
    finally:
        await engine.dispose()
    result.bad_rows.sort()
    return result


def _report(result: ImportResult, console: Console) -> None:
    for line, reason in result.bad_rows:
        console.print(f"line {line}: {reason}", markup=False, highlight=False)
    console.print(
        f"imported {result.imported}, already present {result.already_present}, bad rows {len(result.bad_rows)}"
    )


async def _credits(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    engine = create_engine(settings.database_url.get_secret_value(), pool_size=1)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            if args.action == "top-up":
                balance = await usecases.top_up_credits(
                    uow, reference=args.reference, programme=args.programme, credits=args.credits, note=args.note
                )
                await uow.commit()
                console.print(f"{args.reference}: {balance} credit(s)")
                return 0
            found = await usecases.credit_balance(uow, args.reference)
            if found is None:
                console.print(f"{args.reference}: no such credit account")
                return 1
            console.print(f"{args.reference}: {found[0]} credit(s) (ledger total {found[1]})")
            return 0
    finally:
        await engine.dispose()


def main(argv: Sequence[str], *, settings: Settings | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m invitations")
    commands = parser.add_subparsers(dest="command", required=True)
    cohort = commands.add_parser("import-cohort", help="open a 360 for every row of a CSV file")
    cohort.add_argument("file", type=Path)
    cohort.add_argument("--programme", required=True)
    cohort.add_argument("--deadline", type=date.fromisoformat, help="YYYY-MM-DD (closes 5pm UK time)")
    cohort.add_argument("--funding-method", choices=["self_funded", "purchase_order", "programme_credit"])
    cohort.add_argument("--funding-reference")
    cohort.add_argument("--facilitator-id", type=UUID)
    credits = commands.add_parser("credits", help="programme credit accounts")
    credits.add_argument("action", choices=["top-up", "show"])
    credits.add_argument("reference")
    credits.add_argument("--programme", default="")
    credits.add_argument("--credits", type=int, default=0)
    credits.add_argument("--note", default="")
    args = parser.parse_args(list(argv))
    if args.command == "import-cohort":
        for option, value in (("--programme", args.programme), ("--funding-reference", args.funding_reference)):
            if value is not None and (problem := single_line_problem(value.strip(), max_length=SHORT_TEXT_MAX)
                                      or ("must not be empty" if not value.strip() else None)):
                parser.error(f"{option} {problem}")
    settings = settings or Settings()  # type: ignore[call-arg]
    console = Console(stderr=True)
    if args.command == "credits":
        if args.action == "top-up" and (args.credits <= 0 or not args.programme):
            parser.error("top-up needs --programme and --credits greater than 0")
        return asyncio.run(_credits(args, settings, console))
    defaults = CohortDefaults(
        programme=args.programme,
        deadline=args.deadline,
        funding_method=args.funding_method,
        funding_reference=args.funding_reference,
        facilitator_id=str(args.facilitator_id) if args.facilitator_id else None,
    )
    try:
        result = asyncio.run(import_cohort(args.file, defaults=defaults, settings=settings, console=console))
    except (OSError, BadRow, csv.Error) as problem:
        console.print(f"cannot import {args.file}: {problem}", markup=False)
        return 2
    _report(result, console)
    return 1 if result.bad_rows else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
