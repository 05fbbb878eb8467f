"""`python -m scheduling links`: print the signed personal links of regional leads and facilitators
(how an administrator hands them out; the same links are in the service's emails).

`python -m scheduling links renew facilitator|lead <id>`: give one person a new link (a lost or
forwarded one): the old link stops working and the new one is emailed to them, not printed."""

from __future__ import annotations

import asyncio
import sys
from uuid import UUID

from sqlalchemy import select
from sqlmodel import col

from scheduling import usecases
from scheduling.config import Settings
from scheduling.tables import Facilitator, RegionalLead
from shared.db import UnitOfWork, create_engine, session_factory


async def _links(settings: Settings) -> list[str]:
    engine = create_engine(settings.database_url.get_secret_value(), pool_size=1)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            leads = (await uow.session.execute(select(RegionalLead).order_by(col(RegionalLead.region)))).scalars()
            facilitators = (await uow.session.execute(
                select(Facilitator).order_by(col(Facilitator.region), col(Facilitator.name)))).scalars()
            signer = usecases.links(settings)
            lines = [f"lead         {lead.region:<26} {signer.lead(lead)}" for lead in leads]
            lines += [f"facilitator  {f.region:<26} {signer.facilitator(f)}"
                      for f in facilitators]
            return lines
    finally:
        await engine.dispose()


def print_links(settings: Settings) -> None:
    for line in asyncio.run(_links(settings)):
        print(line)


async def _renew(settings: Settings, table: type[Facilitator] | type[RegionalLead], subject_id: UUID) -> bool:
    engine = create_engine(settings.database_url.get_secret_value(), pool_size=1)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            subject = await uow.session.get(table, subject_id)
            if not isinstance(subject, Facilitator | RegionalLead):
                return False
            await usecases.renew_link(uow, subject, settings=settings)
            await uow.commit()
            return True
    finally:
        await engine.dispose()


def renew(settings: Settings, argv: list[str]) -> int:
    """argv: ["facilitator" | "lead", id]. Exit status 0 when renewed, 2 for bad arguments or no such person."""
    tables: dict[str, type[Facilitator] | type[RegionalLead]] = {"facilitator": Facilitator, "lead": RegionalLead}
    if len(argv) != 2 or argv[0] not in tables:
        print("usage: python -m scheduling links renew facilitator|lead <id>", file=sys.stderr)
        return 2
    try:
        subject_id = UUID(argv[1])
    except ValueError:
        print(f"not an id: {argv[1]!r}", file=sys.stderr)
        return 2
    if not asyncio.run(_renew(settings, tables[argv[0]], subject_id)):
        print(f"no {argv[0]} with id {subject_id}", file=sys.stderr)
        return 2
    print(f"a new link has been emailed to the {argv[0]}; their previous link no longer works")
    return 0
