"""Issue 12 item 3: the public routes' rate limits hold across instances (operators scale the
service): every instance counts in the same PostgreSQL table (shared.ratelimit), which holds no
address. Sliding windows: a day after a busy day still remembers part of it; two days after, nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from invitations.config import Settings
from invitations.usecases.allowance import may_ask
from tests.config import StackSettings
from tests.integration.test_invitations_support import api_body, fast, fresh_database, request, rows, service_on


async def test_two_instances_share_the_limits_and_the_table_holds_no_address(settings: StackSettings) -> None:
    limits = {"public_requests_per_client_per_hour": 5, "public_requests_per_participant_per_day": 2}
    quiet = fast(confirm_public_requests=True, **limits)
    group = f"itest-invitations-limits-{uuid.uuid4().hex[:8]}"
    async with (
        fresh_database(settings) as database,
        service_on(database, settings, group=group, **quiet) as first,
        service_on(database, settings, group=group, **quiet) as second,
    ):
        same = request()
        address = str(same.participant.email)
        body = api_body(same)
        answers = [await instance.client.post("/api/cycles", json=body) for instance in (first, second, first)]
        assert [a.status_code for a in answers] == [202, 202, 429], "two per participant, whichever instance"

        others = [api_body(request()) for _ in range(3)]
        answers = [
            await instance.client.post("/api/cycles", json=b)
            for instance, b in zip((second, first, second), others, strict=True)
        ]
        assert [a.status_code for a in answers] == [202, 202, 429], "five per client (a refused try counts)"

        stored = await rows(first, "SELECT key, hits FROM invitations.rate_limit")
        keys = " ".join(r.key for r in stored)
        assert address.lower() not in keys.lower() and "127.0.0.1" not in keys and "testclient" not in keys
        assert max(r.hits for r in stored) == 6, "the client's count, shared"
        assert len(stored) == 4, "the client, and the three participants it asked for while it could"


async def test_the_windows_slide_and_old_counts_are_forgotten(settings: StackSettings) -> None:
    async with fresh_database(settings) as database:
        config = Settings(
            database_url=database,
            kafka_bootstrap_servers=settings.hlm360_kafka_bootstrap_servers,
            **fast(public_requests_per_client_per_hour=1, public_requests_per_participant_per_day=1),
        )
        async with service_on(database, settings, group=f"itest-limits-{uuid.uuid4().hex[:8]}", **fast()) as service:
            now = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)

            async def ask(moment: datetime, client: str = "198.51.100.7") -> bool:
                return await may_ask(
                    service.runtime.counters,
                    client=client,
                    participant_email="A.Person+x@example.nhs.uk",
                    settings=config,
                    now=moment,
                )

            assert await ask(now) and not await ask(now + timedelta(minutes=10))
            assert not await ask(now + timedelta(hours=1), client="198.51.100.8"), "the participant's day is used up"
            assert not await ask(now + timedelta(days=1), client="198.51.100.9"), "still within a day of the others"
            assert not await ask(now + timedelta(days=2)), "a refused try counts: the day before was not quiet"
            assert await ask(now + timedelta(days=4)), "a new hour, after a whole day without a try"
            forgotten = await service.runtime.counters.forget_expired(now=now + timedelta(days=4, minutes=30))
            assert forgotten == 2, "the other clients' counts, from days before"
            assert len(await rows(service, "SELECT 1 FROM invitations.rate_limit")) == 2
