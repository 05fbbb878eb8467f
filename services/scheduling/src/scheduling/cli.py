"""Operator commands of `python -m scheduling`:

- `links`: print the signed personal links of regional leads and facilitators (how an administrator
  hands them out; the same links are in the service's emails);
- `links renew facilitator|lead <id>`: give one person a new link (a lost or forwarded one): the old
  link stops working and the new one is emailed to them, not printed;
- anything else (`migrate`, serving) goes to the shared service command line."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from uuid import UUID

from scheduling.config import Settings
from scheduling.usecases import registry
from shared.db import UnitOfWork, create_engine, session_factory
from shared.service import cli

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


async def _links(settings: Settings) -> list[str]:
    engine = create_engine(settings.database_url.get_secret_value(), pool_size=1)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            return [
                f"{kind:<12} {region:<26} {link}"
                for kind, region, link in await registry.personal_links(uow, settings=settings)
            ]
    finally:
        await engine.dispose()


def print_links(settings: Settings) -> None:
    for line in asyncio.run(_links(settings)):
        print(line)


async def _renew(settings: Settings, kind: registry.LinkKind, subject_id: UUID) -> bool:
    engine = create_engine(settings.database_url.get_secret_value(), pool_size=1)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            if not await registry.renew_link_of(uow, kind=kind, subject_id=subject_id, settings=settings):
                return False
            await uow.commit()
            return True
    finally:
        await engine.dispose()


def renew(settings: Settings, argv: list[str]) -> int:
    """argv: ["facilitator" | "lead", id]. Exit status 0 when renewed, 2 for bad arguments or no such person."""
    if len(argv) != 2 or argv[0] not in ("facilitator", "lead"):
        print("usage: python -m scheduling links renew facilitator|lead <id>", file=sys.stderr)
        return 2
    try:
        subject_id = UUID(argv[1])
    except ValueError:
        print(f"not an id: {argv[1]!r}", file=sys.stderr)
        return 2
    if not asyncio.run(_renew(settings, argv[0], subject_id)):  # type: ignore[arg-type]
        print(f"no {argv[0]} with id {subject_id}", file=sys.stderr)
        return 2
    print(f"a new link has been emailed to the {argv[0]}; their previous link no longer works")
    return 0


def main(argv: list[str]) -> None:
    settings = Settings()  # type: ignore[call-arg]
    if len(argv) > 1 and argv[1] == "links":
        if argv[2:3] == ["renew"]:
            raise SystemExit(renew(settings, argv[3:]))
        print_links(settings)
        raise SystemExit(0)
    cli(factory="scheduling.main:create_app", settings=settings, migrations=MIGRATIONS, argv=argv)
