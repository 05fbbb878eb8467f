"""People are data, not migrations (ADR 11), on real PostgreSQL: a migrated database holds nobody;
`python -m scheduling seed-demo` adds the demo's people and diaries idempotently; regional leads are
set and listed from the command line, with the same text rules as the service's forms."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import func, select, update
from sqlmodel import col

from scheduling import cli, demo_seed
from scheduling.cli import MIGRATIONS
from scheduling.links import LinkPurpose
from scheduling.tables import Facilitator, RegionalLead, Slot
from scheduling.usecases import common
from shared.contracts.events import FacilitatorRegistered
from shared.db import OutboxMessage, UnitOfWork, create_engine, session_factory
from shared.migrations import upgrade
from tests.config import StackSettings
from tests.integration.conftest import ServiceUnderTest, scratch_database
from tests.integration.scheduling_support import (
    LONDON_LEAD,
    SECRET,
    config,
    service_fixture,  # noqa: F401 (the `service` fixture)
)

LINK = re.compile(r"https?://\S+(/lead/[0-9a-f-]{36}/\S+)")
SEEDED = re.compile(
    r"demo data: 4 facilitators \((\d+) added or restored, (\d+) announced\), "
    r"7 regional leads \((\d+) added or restored\), (\d+) free times added"
)


async def run(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "SCHEDULING_DATABASE_URL": database_url, "SCHEDULING_LINK_SECRET": SECRET}
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "scheduling", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@asynccontextmanager
async def database(url: str) -> AsyncIterator[UnitOfWork]:
    engine = create_engine(url, pool_size=1)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            yield uow
    finally:
        await engine.dispose()


async def counts(url: str) -> tuple[int, int, int, int]:
    """(facilitators, regional leads, slots, outbox rows)."""
    async with database(url) as uow:
        return tuple(  # type: ignore[return-value]
            [
                (await uow.session.execute(select(func.count()).select_from(table))).scalar_one()
                for table in (Facilitator, RegionalLead, Slot, OutboxMessage)
            ]
        )


async def seed(url: str) -> tuple[int, ...]:
    done = await run(url, "seed-demo")
    assert done.returncode == 0, done.stderr
    found = SEEDED.search(done.stdout)
    assert found is not None, done.stdout
    for demo in demo_seed.FACILITATORS:
        assert demo["name"] not in done.stdout + done.stderr and demo["email"] not in done.stdout + done.stderr
    return tuple(int(n) for n in found.groups())


async def test_a_migrated_database_holds_nobody_and_seed_demo_adds_the_demo_once(settings: StackSettings) -> None:
    async with scratch_database(settings, "scheduling_seed") as url:
        await asyncio.to_thread(upgrade, MIGRATIONS, url)
        assert await counts(url) == (0, 0, 0, 0), "migrations insert no people"

        facilitators, announced, leads, slots = await seed(url)
        assert (facilitators, announced, leads) == (4, 4, 7) and slots > 0
        after_first = await counts(url)
        assert after_first[:3] == (4, 7, slots)
        async with database(url) as uow:
            stored = {f.id: f for f in (await uow.session.execute(select(Facilitator))).scalars()}
            assert set(stored) == set(demo_seed.FACILITATOR_IDS)
            assert all(f.announced_at is not None for f in stored.values())
            assert {(f.status, f.monthly_capacity) for f in stored.values()} == {("active", 40), ("lapsed", 4)}
            with_slots = (await uow.session.execute(select(col(Slot.facilitator_id)).distinct())).scalars().all()
            assert len(with_slots) == 3, "the three active ones"
            assert await uow.session.get(RegionalLead, LONDON_LEAD) is not None
            registered = (
                await uow.session.execute(
                    select(col(OutboxMessage.payload)).where(col(OutboxMessage.event_type) == "FacilitatorRegistered")
                )
            ).scalars()
            assert {FacilitatorRegistered.model_validate_json(p).facilitator_id for p in registered} == set(stored)

        assert await seed(url) == (0, 0, 0, 0), "seeding twice changes nothing"
        assert await counts(url) == after_first, "and announces nobody again"


async def registrations(url: str) -> int:
    async with database(url) as uow:
        registered = select(func.count()).where(col(OutboxMessage.event_type) == "FacilitatorRegistered")
        return int((await uow.session.execute(registered)).scalar_one())


async def test_seed_demo_puts_the_demo_back_and_leaves_an_operators_lead_alone(settings: StackSettings) -> None:
    london = demo_seed.FACILITATOR_IDS[0]
    async with scratch_database(settings, "scheduling_reseed") as url:
        await asyncio.to_thread(upgrade, MIGRATIONS, url)
        midlands = ("--region", "midlands", "--name", "Operator Set", "--email", "o.set@midlands.example.nhs.uk")
        operator = await run(url, "regional-lead", "set", *midlands)
        assert operator.returncode == 0, operator.stderr

        facilitators, announced, leads, slots = await seed(url)
        assert (facilitators, announced, leads) == (4, 4, 6) and slots > 0, "the operator's Midlands lead stays"
        async with database(url) as uow:
            await uow.session.execute(
                update(Facilitator).where(col(Facilitator.id) == london).values(monthly_capacity=1, status="suspended")
            )
            await uow.session.execute(
                update(RegionalLead).where(col(RegionalLead.id) == LONDON_LEAD).values(email="someone@else.nhs.uk")
            )
            await uow.commit()

        assert await seed(url) == (1, 1, 1, 0), "what changed is put back, and that facilitator announced again"
        assert await registrations(url) == 5
        async with database(url) as uow:
            restored = await uow.session.get(Facilitator, london)
            assert restored is not None and (restored.status, restored.monthly_capacity) == ("active", 40)
            lead = await uow.session.get(RegionalLead, LONDON_LEAD)
            assert lead is not None and lead.email == "london.lead@hlm360.example.nhs.uk"
            rows = await uow.session.execute(select(RegionalLead).where(func.lower(RegionalLead.region) == "midlands"))
            assert [(m.name, m.email) for m in rows.scalars()] == [("Operator Set", "o.set@midlands.example.nhs.uk")]


def lead_path(output: str) -> str:
    found = LINK.search(output)
    assert found is not None, output
    return found.group(1)


async def test_regional_leads_are_set_and_listed_from_the_command_line(service: ServiceUnderTest) -> None:
    url = service.database_url
    first = ("--region", "Channel Islands", "--name", "Tamsin Le Page", "--email", "T.LePage@islands.example.nhs.uk")
    added = await run(url, "regional-lead", "set", *first)
    assert added.returncode == 0, added.stderr
    assert "regional lead for Channel Islands added" in added.stdout
    page = lead_path(added.stdout)
    opened = await service.client.get(page)
    assert opened.status_code == 200 and "Regional lead: Channel Islands" in opened.text
    async with service.runtime.uow() as uow:
        lead = (
            await uow.session.execute(select(RegionalLead).where(col(RegionalLead.region) == "Channel Islands"))
        ).scalar_one()
        assert (lead.name, lead.email, lead.link_version) == ("Tamsin Le Page", "t.lepage@islands.example.nhs.uk", 1)
        lead_id = lead.id

    # The name corrected, the same person (email compared ignoring case): the same link.
    corrected = await run(
        url,
        "regional-lead",
        "set",
        "--region",
        " channel  islands ",
        "--name",
        "Tamsin Le Page-Ozanne",
        "--email",
        "t.lepage@ISLANDS.example.nhs.uk",
    )
    assert corrected.returncode == 0, corrected.stderr
    assert "changed" in corrected.stdout and "no longer works" not in corrected.stdout
    assert lead_path(corrected.stdout) == page

    # Someone else leads the region now: same lead id (call-outs stay), the previous lead's link stops.
    handed_over = await run(
        url,
        "regional-lead",
        "set",
        "--region",
        "Channel Islands",
        "--name",
        "Yann Mauger",
        "--email",
        "yann.mauger@islands.example.nhs.uk",
    )
    assert handed_over.returncode == 0, handed_over.stderr
    assert f"(id {lead_id})" in handed_over.stdout and "the previous lead's link no longer works" in handed_over.stdout
    new_page = lead_path(handed_over.stdout)
    assert new_page == common.links(config(service)).path(LinkPurpose.LEAD, lead_id, 2)
    assert (await service.client.get(page)).status_code == 404
    assert (await service.client.get(new_page)).status_code == 200

    listed = await run(url, "regional-lead", "list", "--with-links")
    assert listed.returncode == 0, listed.stderr
    regions = [line.split("  ")[0].strip() for line in listed.stdout.splitlines() if not line.startswith(" ")]
    assert len(regions) == 8 and "Channel Islands" in regions and regions == sorted(regions)
    assert new_page in listed.stdout and "Yann Mauger <yann.mauger@islands.example.nhs.uk>" in listed.stdout
    assert common.links(config(service)).path(LinkPurpose.LEAD, LONDON_LEAD) in listed.stdout


async def in_process(database_url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """`python -m scheduling <args>` in this process (the same `cli.main`; a subprocess costs seconds)."""
    monkeypatch.setenv("SCHEDULING_DATABASE_URL", database_url)
    monkeypatch.setenv("SCHEDULING_LINK_SECRET", SECRET)
    try:
        return await asyncio.to_thread(cli.main, list(args))
    except SystemExit as exited:  # argparse refusing the command line
        return int(exited.code or 0)


async def test_a_regional_lead_is_refused_with_the_services_text_rules(
    service: ServiceUnderTest, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = service.database_url
    london = ("--region", "London")
    for bad, problem in (
        ((*london, "--name", " ", "--email", "a@b.nhs.uk"), "--name: Enter the regional lead's full name"),
        (
            (*london, "--name", "Hannah\u202eOkoro", "--email", "a@b.nhs.uk"),
            "--name: The regional lead's full name must be one line",
        ),
        (("--region", "North\tWest", "--name", "N", "--email", "a@b.nhs.uk"), "--region: The region must be one line"),
        ((*london, "--name", "Hannah Okoro"), "the following arguments are required: --email"),
        (("--region", "", "--name", "N", "--email", "a@b.nhs.uk"), "--region: Enter the region"),
    ):
        assert await in_process(url, monkeypatch, "regional-lead", "set", *bad) == 2, bad
        printed = capsys.readouterr()
        assert problem in printed.err and printed.out == "", (bad, printed.err)
    for bad_command in ((), ("remove", "--region", "London")):
        assert await in_process(url, monkeypatch, "regional-lead", *bad_command) == 2
        assert "usage: python -m scheduling regional-lead" in capsys.readouterr().err
    # And from a real process: the exit status an operator's script sees.
    refused = await run(url, "regional-lead", "set", *london, "--name", "Hannah Okoro", "--email", "not an email")
    assert refused.returncode == 2 and refused.stdout == ""
    assert "--email: Enter an email address in the correct format" in refused.stderr
    async with service.runtime.uow() as uow:
        lead = await uow.session.get(RegionalLead, LONDON_LEAD)
        assert lead is not None and (lead.name, lead.email) == ("Hannah Okoro", "london.lead@hlm360.example.nhs.uk")
