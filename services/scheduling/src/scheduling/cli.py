"""Operator commands of `python -m scheduling` (and `hlm360 scheduling`):

- `links --lead ID | --facilitator ID | --all`: print the signed personal links of the chosen regional
  leads and facilitators (how an administrator hands them out; the same links are in the service's
  emails). Nothing is printed without a choice: every link at once only with `--all`;
- `links renew facilitator|lead ID`: give one person a new link (a lost or forwarded one): the old
  link stops working and the new one is emailed to them, not printed. Asks first, unless `--yes`;
- `regional-lead set --region R --name N --email E`: add a region's lead or change who leads it
  (regional leads are managed data); prints their personal link. `regional-lead list`: every lead,
  their links only with `--with-links`;
- `seed-demo`: migrate, then add the demo's fictional facilitators and regional leads (demo_seed.py)
  and open their diaries; idempotent. For demos and tests only (ADR 11), never production;
- `serve` (the default), `migrate`, `rollback REVISION`: the shared service commands (shared.commands).

Arguments are parsed before anything else: `--help` reads no settings and touches no database."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from uuid import UUID

from scheduling import demo_seed, forms
from scheduling.config import Settings
from scheduling.usecases import common, registry
from shared.commands import add_yes, confirm, load_settings, run_service_command, service_parser
from shared.db import UnitOfWork, create_engine, session_factory
from shared.migrations import upgrade

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
COMMANDS = ("links", "regional-lead", "seed-demo")
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


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser, commands = service_parser(
        prog, "The scheduling service: serve it, manage its schema, or run an operator command."
    )
    links = commands.add_parser("links", help="print chosen people's personal links, or renew one person's link")
    links.add_argument("--lead", type=UUID, action="append", default=[], metavar="ID", help="a regional lead's id")
    links.add_argument("--facilitator", type=UUID, action="append", default=[], metavar="ID", help="a facilitator's id")
    links.add_argument("--all", action="store_true", help="every lead's and facilitator's link (handle with care)")
    renewing = links.add_subparsers(dest="links_command", metavar="renew")
    renew = renewing.add_parser("renew", help="a new link, emailed to them; their old link stops working")
    renew.add_argument("kind", choices=["facilitator", "lead"])
    renew.add_argument("id", type=UUID)
    add_yes(renew)
    lead = commands.add_parser("regional-lead", help="regional leads (one per region)")
    lead_commands = lead.add_subparsers(dest="lead_command", required=True)
    chosen = lead_commands.add_parser("set", help="add a region's lead, or change who leads it; prints their link")
    chosen.add_argument("--region", required=True, help="the region, e.g. 'North West'")
    chosen.add_argument("--name", required=True, help="the lead's full name")
    chosen.add_argument("--email", required=True, help="the lead's work email address")
    listed = lead_commands.add_parser("list", help="every regional lead (id, name, email)")
    listed.add_argument("--with-links", action="store_true", help="with each lead's personal link")
    commands.add_parser("seed-demo", help="demo and test machines only: migrate, add the demo's people and diaries")
    return parser


def print_links(settings: Settings, args: argparse.Namespace) -> int:
    """The chosen people's links: 0, or 2 when an id is nobody's."""
    chosen = {} if args.all else {"lead_ids": args.lead, "facilitator_ids": args.facilitator}

    async def read(uow: UnitOfWork) -> list[tuple[registry.LinkKind, str, UUID, str]]:
        return await registry.personal_links(uow, settings=settings, **chosen)

    found = asyncio.run(_in_transaction(settings, read, commit=False))
    for kind, region, subject_id, link in found:
        print(f"{kind:<12} {region:<26} {subject_id}  {link}")
    missing = (set(args.lead) | set(args.facilitator)) - {subject_id for _, _, subject_id, _ in found}
    for subject_id in sorted(missing, key=str):
        print(f"nobody with id {subject_id}", file=sys.stderr)
    return 2 if missing else 0


def renew(settings: Settings, args: argparse.Namespace) -> int:
    """0 when renewed, 1 when not confirmed, 2 when there is no such person."""
    if not confirm(f"renew the {args.kind} {args.id}'s link? Their current link stops working.", yes=args.yes):
        return 1

    async def renew_one(uow: UnitOfWork) -> bool:
        return await registry.renew_link_of(uow, kind=args.kind, subject_id=args.id, settings=settings)

    if not asyncio.run(_in_transaction(settings, renew_one, commit=True)):
        print(f"no {args.kind} with id {args.id}", file=sys.stderr)
        return 2
    print(f"a new link has been emailed to the {args.kind}; their previous link no longer works")
    return 0


def regional_lead(settings: Settings, args: argparse.Namespace) -> int:
    """`set`: 0 when set, 2 for bad values (each problem on stderr); `list`: 0."""
    if args.lead_command == "list":
        lines = asyncio.run(_in_transaction(settings, lambda uow: _lead_lines(uow, settings, args), commit=False))
        for line in lines:
            print(line)
        return 0
    details = forms.parse_regional_lead({"region": args.region, "name": args.name, "email": args.email})
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


async def _lead_lines(uow: UnitOfWork, settings: Settings, args: argparse.Namespace) -> list[str]:
    signer = common.links(settings)
    return [
        f"{lead.region:<26} {lead.id}  {lead.name} <{lead.email}>"
        + (f"\n    {signer.lead(lead)}" if args.with_links else "")
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
        f"restored), {done.slots} free times added; `python -m scheduling links --all` prints their links"
    )
    return 0


def main(argv: Sequence[str], *, prog: str = "python -m scheduling") -> int:
    """Parse (`--help` needs no settings), then run one command; the exit code."""
    parser = build_parser(prog)
    args = parser.parse_args(list(argv))
    if args.command == "links" and args.links_command is None and not (args.all or args.lead or args.facilitator):
        parser.error("links: say whose: --lead ID, --facilitator ID (each may repeat), or --all")
    if args.command not in COMMANDS:
        return run_service_command(
            args,
            factory="scheduling.main:create_app",
            settings=Settings,  # type: ignore[arg-type]
            migrations=MIGRATIONS,
        )
    settings = load_settings(Settings)  # type: ignore[arg-type]
    if args.command == "seed-demo":
        return seed_demo(settings)
    if args.command == "regional-lead":
        return regional_lead(settings, args)
    return renew(settings, args) if args.links_command == "renew" else print_links(settings, args)
