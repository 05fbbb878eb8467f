"""The pure parts of the shared rate limits (shared.ratelimit, docs/adr/0023): windows, the sliding
estimate, the counters' key and the keyed hashes stored instead of addresses and links."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from ratings.config import Settings as RatingsSettings
from reports.config import Settings as ReportsSettings
from shared.ratelimit import Counters, Limit, counter_key, estimate, window_start

MINUTE = Limit("unknown-link", hits=3, seconds=60)
ADDRESS = "198.51.100.7"


def test_a_window_starts_at_a_whole_multiple_of_its_length() -> None:
    moment = datetime(2026, 12, 2, 10, 30, 45, 500_000, tzinfo=UTC)
    assert window_start(moment, MINUTE) == datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
    assert window_start(moment, Limit("day", hits=1, seconds=86400)) == datetime(2026, 12, 2, tzinfo=UTC)
    assert window_start(datetime(2026, 12, 2, 10, 31, tzinfo=UTC), MINUTE) == datetime(2026, 12, 2, 10, 31, tzinfo=UTC)


def test_the_estimate_weighs_the_previous_window_by_what_is_still_within_reach() -> None:
    window = timedelta(seconds=60)
    assert estimate(hits=1, previous_hits=4, elapsed=timedelta(0), window=window) == 5
    assert estimate(hits=1, previous_hits=4, elapsed=timedelta(seconds=15), window=window) == 4
    assert estimate(hits=2, previous_hits=4, elapsed=timedelta(seconds=60), window=window) == 2
    # An instance whose clock lags the one that moved the window on: the previous window counts in full.
    assert estimate(hits=1, previous_hits=4, elapsed=timedelta(seconds=-3), window=window) == 5


def test_a_limit_allows_at_least_one_try_in_at_least_a_second() -> None:
    assert Limit.per("x", hits=2, seconds=59.6) == Limit("x", hits=2, seconds=60)
    assert Limit.per("x", hits=2, seconds=90).window == timedelta(minutes=1, seconds=30)
    with pytest.raises(ValueError, match="at least one try"):
        Limit("x", hits=0, seconds=60)
    with pytest.raises(ValueError, match="at least one try"):
        Limit.per("x", hits=1, seconds=0.2)


def _ratings(url: str) -> RatingsSettings:
    return RatingsSettings(database_url=url)  # type: ignore[arg-type]


def test_the_key_comes_from_the_link_secret_or_else_the_database_password() -> None:
    url = "postgresql+asyncpg://hlm360_ratings:{}@db:5432/ratings"
    first, again = _ratings(url.format("pw-one-0123456789")), _ratings(url.format("pw-one-0123456789"))
    assert counter_key(first) == counter_key(again), "every instance of the service derives the same key"
    moved = _ratings("postgresql+asyncpg://hlm360_ratings:pw-one-0123456789@replica.example:6432/ratings")
    assert counter_key(moved) == counter_key(first), "the host and port are not part of it"
    assert counter_key(_ratings(url.format("pw-two-0123456789"))) != counter_key(first)
    assert b"pw-one" not in counter_key(first) and len(counter_key(first)) == 32

    reports = ReportsSettings(database_url=url.format("pw-one-0123456789"), link_secret="r" * 40)  # type: ignore[arg-type]
    other = ReportsSettings(database_url=url.format("pw-two-0123456789"), link_secret="r" * 40)  # type: ignore[arg-type]
    assert counter_key(reports) == counter_key(other) != counter_key(first)
    assert counter_key(reports) != b"r" * 40


def test_a_service_without_a_secret_for_the_key_does_not_start() -> None:
    with pytest.raises(ValueError, match="need a link secret or a database password"):
        counter_key(_ratings("postgresql+asyncpg:///ratings?host=/run/postgresql"))  # a local socket login


def test_the_stored_key_is_a_keyed_hash_of_service_limit_and_subject() -> None:
    sessions: async_sessionmaker = async_sessionmaker()  # type: ignore[type-arg]
    counters = Counters(sessions, schema="ratings", key=b"k" * 32)
    stored = counters.stored_key(MINUTE, ADDRESS)
    assert len(stored) == 43 and ADDRESS not in stored and "198" not in stored
    assert stored != hashlib.sha256(ADDRESS.encode()).hexdigest()
    assert stored == counters.stored_key(MINUTE, ADDRESS)
    assert stored != counters.stored_key(MINUTE, "198.51.100.8")
    assert stored != counters.stored_key(Limit("self-assessment-start", hits=3, seconds=60), ADDRESS)
    assert stored != counters.stored_key(Limit("unknown-link", hits=3, seconds=600), ADDRESS)
    assert stored != Counters(sessions, schema="reports", key=b"k" * 32).stored_key(MINUTE, ADDRESS)
    assert stored != Counters(sessions, schema="ratings", key=b"j" * 32).stored_key(MINUTE, ADDRESS)
    with pytest.raises(ValueError, match="need a key"):
        Counters(sessions, schema="ratings", key=b"")
