"""Operator commands no single service owns: `python -m shared.cli ensure-topics`."""

import asyncio
import sys

from shared.messaging import client_options, ensure_topics
from shared.settings import AdminSettings


def main(argv: list[str]) -> int:
    if argv[1:] != ["ensure-topics"]:
        sys.stderr.write("usage: python -m shared.cli ensure-topics\n")
        return 2
    created = asyncio.run(ensure_topics(client_options(AdminSettings())))
    sys.stdout.write(f"topics created: {len(created)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
