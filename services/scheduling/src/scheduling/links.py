"""`python -m scheduling links`: print the signed personal links of regional leads and facilitators
(how an administrator hands them out; the same links are in the service's emails)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlmodel import col

from scheduling import usecases
from scheduling.config import Settings
from scheduling.domain import LinkPurpose
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
            lines = [f"lead         {lead.region:<26} {signer.url(LinkPurpose.LEAD, lead.id)}" for lead in leads]
            lines += [f"facilitator  {f.region:<26} {signer.url(LinkPurpose.FACILITATOR, f.id)}"
                      for f in facilitators]
            return lines
    finally:
        await engine.dispose()


def print_links(settings: Settings) -> None:
    for line in asyncio.run(_links(settings)):
        print(line)
