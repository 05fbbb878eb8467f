"""The command line every service shares (`python -m <service>`, `hlm360 <service>`): serve, migrate
and rollback, a confirmation for what cannot be undone, and settings read only once a command runs.

Parsing comes first and needs nothing: `--help` and a bad command line never read the environment,
the database or Kafka. Heavy modules (the web runtime, Alembic) are imported by the command that
uses them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from shared.settings import ServiceSettings

S = TypeVar("S", bound=BaseSettings)
SERVICE_COMMANDS = ("serve", "migrate", "rollback")


def service_parser(prog: str, description: str) -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:  # type: ignore[type-arg]
    """A parser with `serve` (the default), `migrate` and `rollback`; the caller adds its own commands."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("serve", help="migrate the schema, then serve (the default)")
    commands.add_parser("migrate", help="apply this service's migrations (idempotent); nothing else")
    rollback = commands.add_parser(
        "rollback",
        help="undo migrations down to REVISION before an older release is deployed (stop the service first)",
    )
    rollback.add_argument("revision", help="an id from migrations/versions, or 'base'")
    add_yes(rollback)
    return parser, commands


def add_yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", "-y", action="store_true", help="do it without asking for confirmation")


def confirm(question: str, *, yes: bool) -> bool:
    """True if `yes`, or a person at a terminal answers y. Without a terminal (a script) the answer is
    no: a destructive command in a script says `--yes`."""
    if yes:
        return True
    if not sys.stdin.isatty():
        sys.stderr.write(f"{question}\nnot confirmed: run it at a terminal, or add --yes\n")
        return False
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def load_settings(settings: Callable[[], S]) -> S:
    """The service's settings, or exit 2 with the names of the missing or invalid ones (never values)."""
    try:
        return settings()
    except ValidationError as invalid:
        config = getattr(settings, "model_config", {})
        prefix = str(config.get("env_prefix", "")) if isinstance(config, dict) else ""
        names = sorted({f"{prefix}{error['loc'][0] if error['loc'] else ''}".upper() for error in invalid.errors()})
        sys.stderr.write(f"environment missing or invalid: {', '.join(names)} (see the service's config.py)\n")
        raise SystemExit(2) from None


def run_service_command(
    args: argparse.Namespace, *, factory: str, settings: Callable[[], ServiceSettings], migrations: Path
) -> int:
    """`serve` (also when no command was given), `migrate` or `rollback`; the exit code."""
    from shared.migrations import downgrade, upgrade

    command = args.command or "serve"
    loaded = load_settings(settings)
    url = loaded.database_url.get_secret_value()
    if command == "rollback":
        question = f"undo {loaded.service_name}'s migrations down to {args.revision}? Data in what is undone is lost."
        if not confirm(question, yes=args.yes):
            return 1
        downgrade(migrations, url, args.revision)
        return 0
    upgrade(migrations, url)
    if command == "serve":
        from shared.service import serve

        serve(factory, loaded)
    return 0
