"""Issue 14 item 4: rate limits hold across instances (docs/adr/0023). Every instance of a service
counts in the same PostgreSQL table (shared.ratelimit): the N+1th try is refused whichever instance
takes it, concurrent tries never over-admit, old windows are forgotten, and the table holds keyed
hashes, never an address or a token."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import text

import ratings
from ratings.config import Settings as RatingsSettings
from ratings.main import create_app
from shared.db import create_engine, session_factory
from shared.links import new_token
from shared.migrations import upgrade
from shared.ratelimit import Counters, Limit, counter_key
from tests.config import StackSettings
from tests.integration.conftest import ServiceUnderTest, running_service, scratch_database

ADDRESS = "198.51.100.23"
QUIET = {"run_consumers": False, "run_jobs": False, "run_outbox_relay": False}
RATINGS_MIGRATIONS = Path(str(ratings.__file__)).resolve().parents[2] / "migrations"


@asynccontextmanager
async def two_instances(stack: StackSettings) -> AsyncIterator[tuple[Counters, Counters, str]]:
    """The counters of two instances of ratings (separate engines, the same migrated database)."""
    async with scratch_database(stack, "ratelimit_itest") as url:
        await asyncio.to_thread(upgrade, RATINGS_MIGRATIONS, url)
        key = counter_key(RatingsSettings(database_url=url))  # type: ignore[arg-type]
        engines = [create_engine(url), create_engine(url)]
        try:
            first, second = (Counters(session_factory(e), schema="ratings", key=key) for e in engines)
            yield first, second, url
        finally:
            for engine in engines:
                await engine.dispose()


async def stored(url: str) -> list[tuple[str, int, int]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT key, hits, previous_hits FROM ratings.rate_limit"))
            return [(row.key, row.hits, row.previous_hits) for row in result]
    finally:
        await engine.dispose()


async def test_the_limit_holds_across_two_instances_whichever_takes_the_try(settings: StackSettings) -> None:
    limit = Limit("unknown-link", hits=5, seconds=60)
    async with two_instances(settings) as (first, second, url):
        answers = [await counters.allow(limit, ADDRESS) for counters in (first, second, first, second, second)]
        assert answers == [True] * 5
        assert not await first.allow(limit, ADDRESS) and not await second.allow(limit, ADDRESS)
        assert await second.allow(limit, "198.51.100.24"), "another address has its own count"
        assert sorted(hits for _, hits, _ in await stored(url)) == [1, 7]


async def test_concurrent_tries_on_two_instances_never_admit_more_than_the_limit(settings: StackSettings) -> None:
    limit = Limit("self-assessment-start", hits=10, seconds=600)
    async with two_instances(settings) as (first, second, url):
        tries = [(first if n % 2 else second).allow(limit, ADDRESS) for n in range(60)]
        answers = await asyncio.gather(*tries)
        assert answers.count(True) == 10
        assert [hits for _, hits, _ in await stored(url)] == [60], "every try counted, none lost"


async def test_the_window_slides_and_a_lagging_clock_never_starts_it_again(settings: StackSettings) -> None:
    limit = Limit("unknown-link", hits=3, seconds=60)
    late = datetime(2026, 12, 2, 10, 0, 50, tzinfo=UTC)
    async with two_instances(settings) as (first, second, url):
        assert all([await first.allow(limit, ADDRESS, now=late) for _ in range(3)])
        # A fixed window would start afresh at 10:01; the previous minute still weighs almost fully.
        assert not await first.allow(limit, ADDRESS, now=late + timedelta(seconds=11))
        # The second instance's clock is two seconds behind: it counts into the newer window.
        assert not await second.allow(limit, ADDRESS, now=late + timedelta(seconds=9))
        assert await stored(url) == [(first.stored_key(limit, ADDRESS), 2, 3)]
        assert await second.allow(limit, ADDRESS, now=late + timedelta(minutes=2)), "two minutes on"


async def test_old_windows_are_forgotten_and_counting_starts_afresh(settings: StackSettings) -> None:
    minute, day = Limit("unknown-link", hits=1, seconds=60), Limit("new-link-link", hits=1, seconds=86400)
    now = datetime(2026, 12, 2, 10, 30, 10, tzinfo=UTC)
    async with two_instances(settings) as (first, second, url):
        assert await first.allow(minute, ADDRESS, now=now) and await first.allow(day, "link", now=now)
        assert not await second.allow(minute, ADDRESS, now=now + timedelta(seconds=70)), "the last minute weighs"
        assert await second.forget_expired(now=now + timedelta(seconds=70)) == 0, "both windows still count"
        assert await first.forget_expired(now=now + timedelta(minutes=3)) == 1
        assert [key for key, _, _ in await stored(url)] == [first.stored_key(day, "link")]
        assert await second.allow(minute, ADDRESS, now=now + timedelta(minutes=3)), "counted afresh"


async def test_the_table_holds_keyed_hashes_never_an_address_or_a_token(settings: StackSettings) -> None:
    token = new_token()
    async with two_instances(settings) as (first, _, url):
        await first.allow(Limit("unknown-link", hits=3, seconds=60), ADDRESS)
        await first.allow(Limit("new-link-link", hits=3, seconds=86400), f"participant:{token}")
        keys = [key for key, _, _ in await stored(url)]
        assert len(keys) == 2 and all(len(key) == 43 for key in keys)
        text_of_keys = " ".join(keys)
        assert ADDRESS not in text_of_keys and token not in text_of_keys and "198.51" not in text_of_keys
        plain = {hashlib.sha256(value.encode()).hexdigest() for value in (ADDRESS, token, f"participant:{token}")}
        assert not plain & set(keys), "not an unkeyed hash either: one could be looked up from all addresses"


def client_at(service: ServiceUnderTest, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=service.app, client=(address, 50123))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_two_ratings_instances_share_the_unknown_link_limit(settings: StackSettings) -> None:
    async with running_service("ratings", settings, unknown_link_limit=3, **QUIET) as first:
        second_app = create_app(
            RatingsSettings(
                database_url=first.database_url,  # type: ignore[arg-type]
                kafka_bootstrap_servers=settings.hlm360_kafka_bootstrap_servers,
                consumer_group_prefix=f"itest-ratings-second-{uuid.uuid4().hex[:8]}",
                unknown_link_limit=3,
                **QUIET,  # type: ignore[arg-type]
            )
        )
        async with second_app.router.lifespan_context(second_app):
            second = ServiceUnderTest(second_app, second_app.state.runtime, first.database_url)
            async with client_at(first, ADDRESS) as one, client_at(second, ADDRESS) as other:
                codes = [(await client.get(f"/r/{new_token()}")).status_code for client in (one, other, one, other)]
                again = await one.get(f"/r/{new_token()}")
            await second.client.aclose()
            await second.admin.aclose()
    assert codes == [404, 404, 404, 429]
    assert again.status_code == 429
