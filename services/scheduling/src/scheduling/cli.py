"""Operator commands of `python -m scheduling`:

- `links`: print the signed personal links of regional leads and facilitators (how an administrator
  hands them out; the same links are in the service's emails);
- `links renew facilitator|lead <id>`: give one person a new link (a lost or forwarded one): the old
  link stops working and the new one is emailed to them, not printed;
- `regional-lead set --region R --name N --email E`: add a region's lead or change who leads it
  (regional leads are managed data); prints their personal link. `regional-lead list`: every lead
  with their link;
- `seed-demo`: migrate, then add the demo's fictional facilitators and regional leads (demo_seed.py)
  and open their diaries; idempotent. For demos and tests only (ADR 11), never production;
- anything else (`migrate`, serving) goes to the shared service command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from uuid import UUID

from scheduling import demo_seed, forms
from scheduling.config import Settings
from scheduling.usecases import common, registry
from shared.db import UnitOfWork, create_engine, session_factory
from shared.migrations import upgrade
from shared.service import cli

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
T = TypeVar("T")


async def _in_transaction(settings: Settings, use: Callable[[UnitOfWork], Awaitable[T]], *, commit: bool) -> T:
    engine = create_engine(settings.database_url.get_secret_value(), pool_size=1)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            result = await use(uow)
            if commit:
                await uow.commit()
            return result
    finally:
        await engine.dispose()


async def _links(settings: Settings) -> list[str]:
    async def read(uow: UnitOfWork) -> list[str]:
        return [
            f"{kind:<12} {region:<26} {link}"
            for kind, region, link in await registry.personal_links(uow, settings=settings)
        ]

    return await _in_transaction(settings, read, commit=False)


def print_links(settings: Settings) -> None:
    for line in asyncio.run(_links(settings)):
        print(line)


async def _renew(settings: Settings, kind: registry.LinkKind, subject_id: UUID) -> bool:
    async def renew(uow: UnitOfWork) -> bool:
        if not await registry.renew_link_of(uow, kind=kind, subject_id=subject_id, settings=settings):
            return False
        await uow.commit()
        return True

    return await _in_transaction(settings, renew, commit=False)


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


def _lead_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scheduling regional-lead", description="Regional leads (one per region) and their links."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    chosen = commands.add_parser("set", help="add a region's lead, or change who leads it; prints their link")
    chosen.add_argument("--region", required=True, help="the region, e.g. 'North West'")
    chosen.add_argument("--name", required=True, help="the lead's full name")
    chosen.add_argument("--email", required=True, help="the lead's work email address")
    commands.add_parser("list", help="every regional lead with their personal link")
    return parser


def regional_lead(settings: Settings, argv: list[str]) -> int:
    """`set`: 0 when set, 2 for bad arguments or values (each problem on stderr); `list`: 0."""
    arguments = _lead_parser().parse_args(argv)  # exits with 2 and the usage on a bad command line
    if arguments.command == "list":
        for line in asyncio.run(_in_transaction(settings, lambda uow: _lead_lines(uow, settings), commit=False)):
            print(line)
        return 0
    details = forms.parse_regional_lead({"region": arguments.region, "name": arguments.name, "email": arguments.email})
    if isinstance(details, list):
        for field, message in details:
            print(f"--{field}: {message}", file=sys.stderr)
        return 2

    async def set_lead(uow: UnitOfWork) -> str:
        done = await registry.set_regional_lead(uow, details=details)
        what = "added" if done.created else "changed"
        renewed = "; the previous lead's link no longer works" if done.link_renewed else ""
        link = common.links(settings).lead(done.lead)
        return f"regional lead for {done.lead.region} {what} (id {done.lead.id}){renewed}\n{link}"

    print(asyncio.run(_in_transaction(settings, set_lead, commit=True)))
    return 0


async def _lead_lines(uow: UnitOfWork, settings: Settings) -> list[str]:
    signer = common.links(settings)
    return [
        f"{lead.region:<26} {lead.id}  {lead.name} <{lead.email}>\n    {signer.lead(lead)}"
        for lead in await registry.regional_leads(uow)
    ]


def seed_demo(settings: Settings) -> int:
    """Migrate, then seed the demo people (idempotent); prints what changed, no names."""
    upgrade(MIGRATIONS, settings.database_url.get_secret_value())

    async def run(uow: UnitOfWork) -> demo_seed.Seeded:
        return await demo_seed.seed(uow, settings=settings, now=datetime.now(UTC))

    done = asyncio.run(_in_transaction(settings, run, commit=True))
    print(
        f"demo data: {len(demo_seed.FACILITATORS)} facilitators ({done.facilitators} added or restored, "
        f"{done.announced} announced), {len(demo_seed.REGIONAL_LEADS)} regional leads ({done.leads} added or "
        f"restored), {done.slots} free times added; `python -m scheduling links` prints their links"
    )
    return 0


def main(argv: list[str]) -> None:
    settings = Settings()  # type: ignore[call-arg]
    command = argv[1] if len(argv) > 1 else None
    if command == "links":
        if argv[2:3] == ["renew"]:
            raise SystemExit(renew(settings, argv[3:]))
        print_links(settings)
        raise SystemExit(0)
    if command == "regional-lead":
        raise SystemExit(regional_lead(settings, argv[2:]))
    if command == "seed-demo":
        raise SystemExit(seed_demo(settings))
    cli(factory="scheduling.main:create_app", settings=settings, migrations=MIGRATIONS, argv=argv)
