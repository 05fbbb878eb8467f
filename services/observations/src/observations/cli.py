"""`python -m observations [serve|migrate|rollback REVISION]`: the shared service commands
(shared.commands); observations has no operator commands of its own."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from observations.config import Settings
from shared.commands import run_service_command, service_parser

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def main(argv: Sequence[str], *, prog: str = "python -m observations") -> int:
    """Parse (`--help` needs no settings), then run; the exit code."""
    parser, _ = service_parser(prog, "The observations service: serve it, or manage its database schema.")
    args = parser.parse_args(list(argv))
    return run_service_command(
        args,
        factory="observations.main:create_app",
        settings=Settings,  # type: ignore[arg-type]
        migrations=MIGRATIONS,
    )
