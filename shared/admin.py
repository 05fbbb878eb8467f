"""Operator commands: `python -m shared.admin ensure-topics`."""

import asyncio
import sys

from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.messaging import ensure_topics


class AdminSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HLM360_", extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:19092"


def main(argv: list[str]) -> int:
    if argv[1:] != ["ensure-topics"]:
        sys.stderr.write("usage: python -m shared.admin ensure-topics\n")
        return 2
    created = asyncio.run(ensure_topics(AdminSettings().kafka_bootstrap_servers))
    sys.stdout.write(f"topics created: {len(created)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
