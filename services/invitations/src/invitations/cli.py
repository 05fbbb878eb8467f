"""Operator commands: import a whole cohort from CSV, and manage programme credits.

    python -m invitations import-cohort cohort.csv --programme "Mary Seacole 2027 C1" \\
        --deadline 2027-03-26 --funding-method programme_credit --funding-reference MSP-2027-C1
    python -m invitations credits top-up MSP-2027-C1 --programme "Mary Seacole 2027 C1" --credits 40
    python -m invitations credits show MSP-2027-C1
    python -m invitations credits create MSP --programme "Mary Seacole 2027 C1" --credits 40
        (a new account with an unguessable reference, printed: MSP-XXXX-XXXX-XXXX-XXXX-XXXX)

The file's columns and limits are described in forms.py. Each row is one transaction through the
same use case as the Kafka intake and the web page (usecases/cohort.py). Exit code 0 all imported,
1 some bad rows, 2 file unusable.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from uuid import UUID

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from invitations.config import Settings
from invitations.forms import MAX_FILE_BYTES, BadRow, CohortDefaults, read_rows, row_to_request
from invitations.usecases.cohort import ImportResult, import_rows
from invitations.usecases.funding import create_credit_account, credit_balance, top_up_credits
from shared.commands import load_settings, run_service_command, service_parser
from shared.contracts.events import CycleRequested
from shared.contracts.text import SHORT_TEXT_MAX, single_line_problem
from shared.db import UnitOfWork, create_engine, session_factory
from shared.migrations import upgrade

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
COMMANDS = ("import-cohort", "credits")


def read_file(path: Path) -> tuple[list[tuple[int, dict[str, str]]], list[tuple[int, str]]]:
    with path.open("rb") as handle:
        return read_rows(handle.read(MAX_FILE_BYTES + 1))  # no more than the limit is ever read


async def import_cohort(
    path: Path, *, defaults: CohortDefaults, settings: Settings, console: Console | None = None
) -> ImportResult:
    console = console or Console(stderr=True)
    rows, bad_rows = await asyncio.to_thread(read_file, path)
    requests: list[tuple[int, CycleRequested]] = []
    for line, row in rows:
        try:
            requests.append((line, row_to_request(row, defaults=defaults)))
        except BadRow as problem:
            bad_rows.append((line, str(problem)))
    engine = create_engine(settings.database_url.get_secret_value(), pool_size=2)
    try:
        with Progress(
            TextColumn("[bold]Importing cohort"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("rows", total=len(rows))
            progress.advance(task, len(rows) - len(requests))
            return await import_rows(
                session_factory(engine),
                requests,
                settings=settings,
                bad_rows=bad_rows,
                advance=lambda: progress.advance(task),
            )
    finally:
        await engine.dispose()


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
            if args.action in ("top-up", "create"):
                given = {"programme": args.programme, "credits": args.credits, "note": args.note}
                if args.action == "create":
                    reference, balance = await create_credit_account(uow, reference=args.reference, **given)
                else:
                    reference = args.reference
                    balance = await top_up_credits(uow, reference=reference, **given)
                await uow.commit()
                console.print(f"{reference}: {balance} credit(s)", markup=False, highlight=False)
                return 0
            found = await credit_balance(uow, args.reference)
            if found is None:
                console.print(f"{args.reference}: no such credit account")
                return 1
            console.print(f"{args.reference}: {found[0]} credit(s) (ledger total {found[1]})")
            return 0
    finally:
        await engine.dispose()


def build_parser(prog: str) -> argparse.ArgumentParser:
    """The whole command line (`--help` reads no settings and touches no database)."""
    parser, commands = service_parser(
        prog, "The invitations service: serve it, manage its schema, or run an operator command."
    )
    cohort = commands.add_parser("import-cohort", help="open a 360 for every row of a CSV file (migrates first)")
    cohort.add_argument("file", type=Path)
    cohort.add_argument("--programme", required=True)
    cohort.add_argument("--deadline", type=date.fromisoformat, help="YYYY-MM-DD (closes 5pm UK time)")
    cohort.add_argument("--funding-method", choices=["self_funded", "purchase_order", "programme_credit"])
    cohort.add_argument("--funding-reference")
    cohort.add_argument("--facilitator-id", type=UUID)
    credits = commands.add_parser("credits", help="programme credit accounts (migrates first)")
    credits.add_argument("action", choices=["create", "top-up", "show"])
    credits.add_argument("reference", help="the account's reference (create: the prefix of a generated one)")
    credits.add_argument("--programme", default="")
    credits.add_argument("--credits", type=int, default=0)
    credits.add_argument("--note", default="")
    return parser


def main(argv: Sequence[str], *, prog: str = "python -m invitations") -> int:
    """`python -m invitations [serve|migrate|rollback REVISION]` (shared.commands), or an operator
    command, which migrates the schema first; the exit code."""
    parser = build_parser(prog)
    args = parser.parse_args(list(argv))
    if args.command not in COMMANDS:
        return run_service_command(
            args,
            factory="invitations.main:create_app",
            settings=Settings,  # type: ignore[arg-type]
            migrations=MIGRATIONS,
        )
    problem = _argument_problem(args)
    if problem:
        parser.error(problem)
    settings = load_settings(Settings)  # type: ignore[arg-type]
    upgrade(MIGRATIONS, settings.database_url.get_secret_value())
    return run_command(args, settings=settings)


def _argument_problem(args: argparse.Namespace) -> str | None:
    if args.command == "credits":
        if args.action in ("top-up", "create") and (args.credits <= 0 or not args.programme):
            return f"{args.action} needs --programme and --credits greater than 0"
        return None
    for option, value in (("--programme", args.programme), ("--funding-reference", args.funding_reference)):
        if value is not None and (
            problem := single_line_problem(value.strip(), max_length=SHORT_TEXT_MAX)
            or ("must not be empty" if not value.strip() else None)
        ):
            return f"{option} {problem}"
    return None


def run_command(args: argparse.Namespace, *, settings: Settings) -> int:
    """An operator command (import-cohort, credits) whose arguments were checked: run, report; the exit code."""
    console = Console(stderr=True)
    if args.command == "credits":
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
