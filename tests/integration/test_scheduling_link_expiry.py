"""Booking links expire (docs/adr/0016): each email mints one valid booking_link_days from then; one
signed with a previous secret still opens until it expires; an expired one gets a 410 page offering a
new link, emailed to the participant's address on record with the same answer whether or not anything
was sent; a link whose expiry was changed is not recognised. Expired links are signed in the past by
the test (no sleeping)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select
from sqlmodel import col

from scheduling.links import Links
from scheduling.tables import FeedbackSession
from shared.links import SigningKeys
from tests.config import StackSettings
from tests.integration.conftest import ServiceUnderTest
from tests.integration.scheduling_support import (
    add_facilitator,
    add_slot,
    booking_link_in,
    emails,
    monday_in,
    open_booking,
    quiesce,
    running_scheduling,
)

OLD = "expiry-old-scheduling-secret-" + "o" * 40
NEW = "expiry-new-scheduling-secret-" + "n" * 40


@pytest.fixture(name="service")
async def rotated_service(settings: StackSettings, tmp_path: Path) -> AsyncIterator[ServiceUnderTest]:
    async with running_scheduling(
        settings,
        link_secret=NEW,
        link_secrets_previous=[OLD],
        new_links_per_link_per_day=1,
        output_dir=tmp_path,
        seed_availability=False,
        mail_poll_seconds=0.2,
    ) as running:
        yield running
        await quiesce(running)


def booking_token(secret: str, cycle_id: UUID, *, expires_at: datetime) -> str:
    return Links(keys=SigningKeys(secret.encode()), base_url="").booking_token(cycle_id, expires_at=expires_at)


def tampered(token: str) -> str:
    expires, _, signature = token.partition(".")
    return f"{int(expires) + 365 * 86400}.{signature}"


async def sessions_of(service: ServiceUnderTest, cycle_id: UUID) -> list[FeedbackSession]:
    async with service.runtime.uow() as uow:
        found = await uow.session.execute(select(FeedbackSession).where(col(FeedbackSession.cycle_id) == cycle_id))
        return list(found.scalars())


async def test_a_booking_link_expires_and_a_new_one_goes_to_the_address_on_record(service: ServiceUnderTest) -> None:
    facilitator = await add_facilitator(service)
    slot = await add_slot(service, facilitator, monday_in(2))
    cycle_id = await open_booking(service)
    [offer] = [m for m in await emails(service, cycle_id) if m.kind == "booking_offer"]
    sent = booking_link_in(service, cycle_id, offer.body)
    token = sent.rsplit("/", 1)[1]
    assert 89.9 < (int(token.partition(".")[0]) - time.time()) / 86400 <= 90, "booking_link_days from the email"
    assert (await service.client.get(sent)).status_code == 200
    later, past = datetime.now(UTC) + timedelta(days=1), datetime.now(UTC) - timedelta(minutes=1)
    previous = booking_token(OLD, cycle_id, expires_at=later)
    assert (await service.client.get(f"/book/{cycle_id}/{previous}")).status_code == 200, "rotation"

    for secret in (NEW, OLD):
        expired = booking_token(secret, cycle_id, expires_at=past)
        page = await service.client.get(f"/book/{cycle_id}/{expired}")
        assert page.status_code == 410 and "This link has expired" in page.text
        assert f'action="/book/{cycle_id}/{expired}/new-link"' in page.text and "Email me a new link" in page.text
        chosen = await service.client.post(f"/book/{cycle_id}/{expired}", data={"slot": str(slot)})
        assert chosen.status_code == 410
        for forged in (tampered(expired), tampered(token), expired.partition(".")[2], f"0{expired}"):
            refused = await service.client.get(f"/book/{cycle_id}/{forged}")
            assert refused.status_code == 404 and "Link not recognised" in refused.text
        assert (await service.client.post(f"/book/{cycle_id}/{tampered(expired)}/new-link")).status_code == 404
    assert await sessions_of(service, cycle_id) == [], "an expired link books nothing"

    expired = booking_token(OLD, cycle_id, expires_at=past)
    asked = await service.client.post(f"/book/{cycle_id}/{expired}/new-link")
    assert asked.status_code == 200 and "Check your email" in asked.text
    [renewed] = [m for m in await emails(service, cycle_id) if m.kind == "booking_link"]
    assert renewed.to_address == offer.to_address, "the address on record"
    fresh = booking_link_in(service, cycle_id, renewed.body)
    assert (await service.client.get(fresh)).status_code == 200

    # beyond the per-link limit, and for a cycle nobody was invited to book: the same answer, nothing sent
    nobody = uuid4()
    again = [
        await service.client.post(f"/book/{cycle_id}/{expired}/new-link"),
        await service.client.post(f"/book/{nobody}/{booking_token(NEW, nobody, expires_at=past)}/new-link"),
    ]
    assert [(r.status_code, r.text) for r in again] == [(200, asked.text)] * 2
    assert [m.kind for m in await emails(service, cycle_id)].count("booking_link") == 1
    assert await emails(service, nobody) == []
