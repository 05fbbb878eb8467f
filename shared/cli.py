"""Operator commands no single service owns: `python -m shared.cli ensure-topics` (also `hlm360 topics
ensure`). `--help` reads no settings and touches no broker."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence


def ensure_topics() -> int:
    """Create the topics of the contract that are missing, as the operators' principal (AdminSettings)."""
    from shared.commands import load_settings
    from shared.messaging import client_options
    from shared.messaging import ensure_topics as create_missing
    from shared.settings import AdminSettings

    created = asyncio.run(create_missing(client_options(load_settings(AdminSettings))))
    sys.stdout.write(f"topics created: {len(created)}\n")
    return 0


def main(argv: Sequence[str], *, prog: str = "python -m shared.cli") -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Operator commands no single service owns.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("ensure-topics", help="create the contract's missing topics (idempotent)")
    parser.parse_args(list(argv))
    return ensure_topics()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
