"""The facilitator registry (real Kafka and PostgreSQL): seeded facilitators announced once, status
changes and bookings, personal links renewed by a lead and from the command line."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import select
from sqlmodel import col

from scheduling.demo_seed import FACILITATOR_IDS as SEEDED_FACILITATOR_IDS
from scheduling.domain import FacilitatorStatus
from scheduling.links import LinkPurpose
from scheduling.tables import (
    Facilitator,
    OutgoingEmail,
    RegionalLead,
)
from scheduling.usecases import common, directory, registry
from tests.integration.conftest import ServiceUnderTest
from tests.integration.scheduling_support import (
    LONDON_LEAD,
    SECRET,
    add_facilitator,
    add_slot,
    book,
    config,
    monday_in,
    open_booking,
    outbox,
    service_fixture,  # noqa: F401 (the `service` fixture)
)
from tests.support import eventually


async def test_seeded_facilitators_are_announced_once_and_lapse_keeps_bookings(service: ServiceUnderTest) -> None:
    async def announced() -> list[dict[str, Any]] | None:
        found = await outbox(service, "FacilitatorRegistered")
        return found if len(found) >= 4 else None

    registered = await eventually(announced, what="the seeded facilitators' registrations")
    assert {UUID(e["facilitator_id"]) for e in registered} == set(SEEDED_FACILITATOR_IDS)
    statuses = {e["facilitator_id"]: e["status"] for e in await outbox(service, "FacilitatorStatusChanged")}
    assert statuses[str(SEEDED_FACILITATOR_IDS[3])] == "lapsed"
    assert len(await outbox(service, "FacilitatorAccredited")) == 4
    async with service.runtime.uow() as uow:
        assert await directory.announce_facilitators(uow, now=datetime.now(UTC)) == 0

    facilitator = await add_facilitator(service, region="Midlands")
    slot = await add_slot(service, facilitator, monday_in(2))
    session = await book(service, await open_booking(service, region="Midlands"), slot)
    async with service.runtime.uow() as uow:
        lead = (
            await uow.session.execute(select(RegionalLead).where(col(RegionalLead.region) == "Midlands"))
        ).scalar_one()
        kept = await registry.change_status(
            uow,
            lead=lead,
            facilitator_id=facilitator,
            status=FacilitatorStatus.LAPSED,
            settings=config(service),
            now=datetime.now(UTC),
        )
        await uow.commit()
    assert kept == 0
    async with service.runtime.uow() as uow:
        cancelled = await registry.change_status(
            uow,
            lead=lead,
            facilitator_id=facilitator,
            status=FacilitatorStatus.SUSPENDED,
            settings=config(service),
            now=datetime.now(UTC),
        )
        await uow.commit()
    assert cancelled == 1
    api = (await service.admin.get("/api/sessions", params={"cycle_id": str(session.cycle_id)})).json()
    assert api["status"] == "cancelled"
    assert [
        e["status"]
        for e in await outbox(service, "FacilitatorStatusChanged")
        if e["facilitator_id"] == str(facilitator)
    ] == ["lapsed", "suspended"]


async def new_link_emails(service: ServiceUnderTest, address: str) -> list[OutgoingEmail]:
    async with service.runtime.uow() as uow:
        rows = await uow.session.execute(
            select(OutgoingEmail).where(col(OutgoingEmail.kind) == "new_link", col(OutgoingEmail.to_address) == address)
        )
        found = list(rows.scalars())
        uow.session.expunge_all()
        return found


async def test_a_lead_renews_a_facilitators_link_and_the_old_one_stops_working(service: ServiceUnderTest) -> None:
    facilitator = await add_facilitator(service)
    elsewhere = await add_facilitator(service, region="North West")
    links = common.links(config(service))
    old_page, lead_page = links.path(LinkPurpose.FACILITATOR, facilitator), links.path(LinkPurpose.LEAD, LONDON_LEAD)
    assert (await service.client.get(old_page)).status_code == 200
    record = await service.client.get(f"{lead_page}/facilitators/{facilitator}")
    assert "Email the facilitator a new link" in record.text

    renewed = await service.client.post(f"{lead_page}/facilitators/{facilitator}", data={"form": "link"})
    assert renewed.status_code == 303 and renewed.headers["location"] == f"{lead_page}?done=new_link"
    assert "Their previous link no longer works" in (await service.client.get(renewed.headers["location"])).text
    for attempt in (service.client.get(old_page), service.client.post(old_page + "/interest", data={})):
        response = await attempt
        assert response.status_code == 404 and "Link not recognised" in response.text

    async with service.runtime.uow() as uow:
        stored = await uow.session.get(Facilitator, facilitator)
        assert stored is not None and stored.link_version == 2
        address = stored.email
    (email_row,) = await new_link_emails(service, address)
    found = re.search(r"https?://\S+(/facilitator/\S+)", email_row.body)
    assert found is not None and found.group(1) == links.path(LinkPurpose.FACILITATOR, facilitator, 2)
    assert (await service.client.get(found.group(1))).status_code == 200
    assert old_page not in email_row.body and email_row.cycle_id is None

    # Not a facilitator of the lead's region: refused, nothing renewed or sent.
    refused = await service.client.post(f"{lead_page}/facilitators/{elsewhere}", data={"form": "link"})
    assert refused.status_code == 404 and "There is no such facilitator in your region" in refused.text
    assert (await service.client.get(links.path(LinkPurpose.FACILITATOR, elsewhere))).status_code == 200
    async with service.runtime.uow() as uow:
        other = await uow.session.get(Facilitator, elsewhere)
        assert other is not None and other.link_version == 1
        address = other.email
    assert await new_link_emails(service, address) == []


async def test_an_administrator_renews_a_leads_link_from_the_command_line(service: ServiceUnderTest) -> None:
    links = common.links(config(service))
    old_page = links.path(LinkPurpose.LEAD, LONDON_LEAD)
    assert (await service.client.get(old_page)).status_code == 200
    environment = {**os.environ, "SCHEDULING_DATABASE_URL": service.database_url, "SCHEDULING_LINK_SECRET": SECRET}

    async def run(*args: str, yes: bool = True) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "scheduling", "links", "renew", *args, *(["--yes"] if yes else [])],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )

    unconfirmed = await run("lead", str(LONDON_LEAD), yes=False)  # a script without --yes: nothing renewed
    assert unconfirmed.returncode == 1 and "add --yes" in unconfirmed.stderr
    assert (await service.client.get(old_page)).status_code == 200
    done = await run("lead", str(LONDON_LEAD))
    assert done.returncode == 0, done.stderr
    assert "emailed" in done.stdout and "/lead/" not in done.stdout, "the new link is emailed, never printed"
    assert (await service.client.get(old_page)).status_code == 404
    async with service.runtime.uow() as uow:
        lead = await uow.session.get(RegionalLead, LONDON_LEAD)
        assert lead is not None
        address = lead.email
    (email_row,) = await new_link_emails(service, address)
    assert links.path(LinkPurpose.LEAD, LONDON_LEAD, 2) in email_row.body
    assert (await service.client.get(links.path(LinkPurpose.LEAD, LONDON_LEAD, 2))).status_code == 200

    for bad in (("lead",), ("cohort", str(LONDON_LEAD)), ("lead", "not-an-id"), ("facilitator", str(uuid4()))):
        refused = await run(*bad)
        assert refused.returncode == 2 and refused.stderr, bad
