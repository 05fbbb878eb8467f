"""No message can block a partition (docs/adr/0009), against the real Kafka and PostgreSQL: poison
messages are dead-lettered at once, errors retried with growing pauses up to a bound, outages wait
without using up attempts, and a stuck message writes a bounded log."""

from __future__ import annotations

import errno
import itertools
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID, uuid4

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, MessageSizeTooLargeError
from prometheus_client import CollectorRegistry
from sqlalchemy import exc as sa
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

from shared.consumers import EventConsumers, FailureBook, RetryPolicy, describe_failure, is_outage
from shared.contracts.events import CycleEvent
from shared.contracts.topics import DEAD_LETTER_TOPIC, topic_for
from shared.db import UnitOfWork, create_engine, session_factory
from shared.logging import JsonFormatter
from shared.messaging import ensure_topics
from shared.metrics import DEAD_LETTER_KINDS, RETRY_CAUSES
from shared.service import ServiceRuntime
from shared.settings import ServiceSettings
from tests.config import StackSettings, kafka_options
from tests.integration.conftest import scratch_database
from tests.support import TopicReader, eventually, header

SECRET = "Amara Okafor"  # appears in bodies and errors; must never reach a reason or a log line


class PoisonProbe(CycleEvent):
    """Test-only events, each on its own topic and consumer."""

    event_type: Literal["PoisonProbe"] = "PoisonProbe"
    value: int


class FlakyProbe(CycleEvent):
    event_type: Literal["FlakyProbe"] = "FlakyProbe"
    value: int


class OutageProbe(CycleEvent):
    event_type: Literal["OutageProbe"] = "OutageProbe"
    value: int


PROBES = (PoisonProbe, FlakyProbe, OutageProbe)
POLICY = RetryPolicy(backoff_seconds=0.1, backoff_max_seconds=0.8, max_attempts=5, outage_pause_max_seconds=1.6)
planned_failures: dict[UUID, int] = {}
attempt_times: defaultdict[UUID, list[float]] = defaultdict(list)


class FlakyDatabase:
    """Connections are refused until `down_until` (alternately by the socket and as the driver's
    OperationalError), as when PostgreSQL restarts; records when each connection was tried."""

    def __init__(self, url: str) -> None:
        self._dsn = url.replace("postgresql+asyncpg://", "postgresql://")
        self.down_until = 0.0
        self.tries: list[float] = []
        self.engine = create_async_engine(url, async_creator=self.connect, poolclass=NullPool)

    async def connect(self) -> asyncpg.Connection:
        now = time.monotonic()
        self.tries.append(now)
        if now < self.down_until:
            if len(self.tries) % 2:
                raise ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed ('127.0.0.1', 55432)")
            raise self.engine.dialect.loaded_dbapi.OperationalError("the database system is shutting down")
        return await asyncpg.connect(self._dsn)


@dataclass
class Harness:
    runtime: ServiceRuntime
    engine: AsyncEngine
    database: FlakyDatabase
    producer: AIOKafkaProducer
    prefix: str

    def consumer(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def sample(self, name: str, **labels: str) -> float:
        value = self.runtime.metrics.registry.get_sample_value(name, labels)
        assert value is not None, f"{name}{labels} is not exposed"
        return value

    async def send(self, topic: str, body: bytes, key: UUID, headers: list[tuple[str, bytes]] | None = None) -> None:
        await self.producer.send_and_wait(topic, body, key=str(key).encode(), headers=headers or [])

    async def applied(self, cycle_id: UUID) -> list[int]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT value FROM failure_probe_applied WHERE cycle_id = :c ORDER BY value"), {"c": cycle_id}
            )
            return [r[0] for r in rows]


async def apply_probe(event: PoisonProbe | FlakyProbe | OutageProbe, uow: UnitOfWork) -> None:
    attempt_times[event.event_id].append(time.monotonic())
    if len(attempt_times[event.event_id]) <= planned_failures.get(event.event_id, 0):
        raise RuntimeError(f"simulated bug while greeting {SECRET}")
    await uow.session.execute(
        text("INSERT INTO failure_probe_applied (event_id, cycle_id, value) VALUES (:e, :c, :v)"),
        {"e": event.event_id, "c": event.cycle_id, "v": event.value},
    )


@pytest.fixture(scope="module")
async def harness(settings: StackSettings) -> AsyncIterator[Harness]:
    bootstrap = settings.hlm360_kafka_bootstrap_servers
    await ensure_topics(kafka_options(bootstrap), (*(topic_for(p) for p in PROBES), DEAD_LETTER_TOPIC))
    async with scratch_database(settings, "consumer_failures_itest") as database_url:
        engine = create_engine(database_url)
        async with engine.begin() as connection:
            await connection.run_sync(
                SQLModel.metadata.create_all, tables=[SQLModel.metadata.tables[t] for t in ("outbox", "inbox")]
            )
            await connection.execute(
                text(
                    "CREATE TABLE failure_probe_applied (event_id uuid PRIMARY KEY, cycle_id uuid NOT NULL, value int)"
                )
            )
        prefix = f"itest-failures-{uuid4().hex[:8]}"
        runtime = ServiceRuntime(
            ServiceSettings(
                service_name="itest-failures",
                database_url=database_url,  # type: ignore[arg-type]
                kafka_bootstrap_servers=bootstrap,
                http_port=0,
                consumer_group_prefix=prefix,
                consumer_retry_backoff_seconds=POLICY.backoff_seconds,
                consumer_retry_backoff_max_seconds=POLICY.backoff_max_seconds,
                consumer_max_attempts=POLICY.max_attempts,
                consumer_outage_pause_max_seconds=POLICY.outage_pause_max_seconds,
                outbox_poll_seconds=0.1,
            )
        )
        runtime.consumers.on(PoisonProbe, name="poison")(apply_probe)
        runtime.consumers.on(FlakyProbe, name="flaky")(apply_probe)
        database = FlakyDatabase(database_url)
        outage_consumers = EventConsumers(
            runtime.broker,
            service=prefix,
            uow=lambda: UnitOfWork(session_factory(database.engine)),
            metrics=runtime.metrics,
            policy=POLICY,
        )
        outage_consumers.on(OutageProbe, name="outage")(apply_probe)
        producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", max_request_size=2 * 1024 * 1024)
        await producer.start()
        await runtime.start()
        try:
            yield Harness(runtime, engine, database, producer, prefix)
        finally:
            await runtime.stop()
            await producer.stop()
            await database.engine.dispose()
            await engine.dispose()


def probe(event_type: type[PoisonProbe | FlakyProbe | OutageProbe], cycle_id: UUID, value: int = 1) -> bytes:
    return event_type(producer="itest", cycle_id=cycle_id, value=value).model_dump_json().encode()


def nested(depth: int) -> bytes:
    """A CycleRequested-like body whose `participant` nests `depth` objects deep."""
    return (
        b'{"event_type": "PoisonProbe", "producer": "x", "cycle_id": "'
        + str(uuid4()).encode()
        + b'", "value": 1, "participant": '
        + b'{"participant": ' * depth
        + b'"'
        + SECRET.encode()
        + b'"'
        + b"}" * depth
        + b"}"
    )


JSON = [("content-type", b"application/json")]
POISON = [
    pytest.param(nested(5000), [], "undecodable", "too deep: JSON nesting over 32 levels", id="5000-deep"),
    pytest.param(nested(5000), JSON, "undecodable", "too deep: JSON nesting over 32 levels", id="5000-deep-json"),
    pytest.param(
        b'{"name": "Zo\xeb ' + SECRET.encode() + b'"}',
        [("content-type", b"text/plain")],
        "undecodable",
        "not UTF-8: invalid byte at offset 12",
        id="not-utf8-text-plain",
    ),
    pytest.param(
        b'{"name": "' + SECRET.encode() + b'", ',
        JSON,
        "invalid",
        "invalid event: (message): Invalid JSON",
        id="invalid-json-application-json",
    ),
    pytest.param(
        b'{"pad": "' + b"x" * 600_000 + b'"}', [], "undecodable", "too large: 600011 bytes > 524288", id="oversize"
    ),
    pytest.param(
        b'["' + SECRET.encode() + b'"]',
        JSON,
        "invalid",
        "invalid event: (message): Input should be an object",
        id="array-top-level",
    ),
    pytest.param(b"", [], "invalid", "invalid event: (message): Invalid JSON", id="empty"),
]


@pytest.mark.parametrize(("body", "headers", "kind", "reason"), POISON)
async def test_a_poison_message_is_dead_lettered_at_once_and_the_next_on_its_partition_is_applied(
    harness: Harness, settings: StackSettings, body: bytes, headers: list[tuple[str, bytes]], kind: str, reason: str
) -> None:
    consumer, cycle_id = harness.consumer("poison"), uuid4()
    before = totals(harness.runtime.metrics.registry, consumer)
    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, DEAD_LETTER_TOPIC) as dead_letters:
        await harness.send(topic_for(PoisonProbe), body, cycle_id, headers)
        await harness.send(topic_for(PoisonProbe), probe(PoisonProbe, cycle_id, value=2), cycle_id)  # same partition
        assert await eventually(lambda: harness.applied(cycle_id), what="the event after the poison") == [2]
        found = await dead_letters.wait_for(lambda r: r.key == str(cycle_id).encode())
    assert len(found) == 1 and found[0].value == body
    assert (header(found[0], "x-dead-letter-reason") or "").startswith(reason)
    assert header(found[0], "x-dead-letter-kind") == kind
    assert header(found[0], "x-dead-letter-consumer") == consumer
    after = totals(harness.runtime.metrics.registry, consumer)
    assert after[f"dead_letters:{kind}"] - before[f"dead_letters:{kind}"] == 1
    assert after["retries:error"] == before["retries:error"] and after["retries:outage"] == before["retries:outage"]


async def test_a_header_that_is_not_utf8_does_not_lose_the_event(harness: Harness) -> None:
    cycle_id = uuid4()
    await harness.send(
        topic_for(PoisonProbe),
        probe(PoisonProbe, cycle_id),
        cycle_id,
        [("content-type", b"text/plain"), ("x-note", b"\xff\xfe" + SECRET.encode())],
    )
    assert await eventually(lambda: harness.applied(cycle_id), what="the event with the odd header") == [1]


async def test_an_unknown_error_is_retried_with_growing_pauses_then_applied(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    consumer, cycle_id = harness.consumer("flaky"), uuid4()
    event = FlakyProbe(producer="itest", cycle_id=cycle_id, value=1)
    planned_failures[event.event_id] = 3
    before = totals(harness.runtime.metrics.registry, consumer)
    await harness.send(topic_for(FlakyProbe), event.model_dump_json().encode(), cycle_id)
    assert await eventually(lambda: harness.applied(cycle_id), what="the event after 3 failures") == [1]
    times = attempt_times[event.event_id]
    gaps = gaps_between(times)
    assert len(times) == 4
    for gap, pause in zip(gaps, (0.1, 0.2, 0.4), strict=True):
        assert pause * 0.9 <= gap < pause + 1.0, gaps
    after = totals(harness.runtime.metrics.registry, consumer)
    assert after["retries:error"] - before["retries:error"] == 3
    assert after["dead_letters:failed"] == before["dead_letters:failed"]
    ours = [r for r in caplog.records if r.name == "shared.consumers" and getattr(r, "consumer", "") == consumer]
    assert len(ours) == 1 and "traceback" in ours[0].__dict__, "the first failure, with its traceback; then quiet"
    assert "apply_probe" in ours[0].__dict__["traceback"]
    assert_no_secret_logged(caplog)


async def test_an_error_that_persists_is_dead_lettered_at_the_bound_and_the_partition_moves_on(
    harness: Harness, settings: StackSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    consumer, cycle_id = harness.consumer("flaky"), uuid4()
    stuck = FlakyProbe(producer="itest", cycle_id=cycle_id, value=1)
    planned_failures[stuck.event_id] = 1000
    before = totals(harness.runtime.metrics.registry, consumer)
    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, DEAD_LETTER_TOPIC) as dead_letters:
        await harness.send(topic_for(FlakyProbe), stuck.model_dump_json().encode(), cycle_id)
        await harness.send(topic_for(FlakyProbe), probe(FlakyProbe, cycle_id, value=2), cycle_id)
        assert await eventually(lambda: harness.applied(cycle_id), what="the event after the stuck one") == [2]
        found = await dead_letters.wait_for(lambda r: r.key == str(cycle_id).encode())
    assert header(found[0], "x-dead-letter-reason") == "processing failed after 5 attempts: RuntimeError"
    assert header(found[0], "x-dead-letter-kind") == "failed"
    times = attempt_times[stuck.event_id]
    gaps = gaps_between(times)
    assert len(times) == POLICY.max_attempts
    assert min(gaps) >= 0.09 and max(gaps) < POLICY.backoff_max_seconds + 1.0, f"no tight loop, capped: {gaps}"
    after = totals(harness.runtime.metrics.registry, consumer)
    assert after["dead_letters:failed"] - before["dead_letters:failed"] == 1
    assert after["retries:error"] - before["retries:error"] == POLICY.max_attempts - 1
    assert len(harness.runtime.consumers.failures) == 0, "nothing left in memory for the dead-lettered message"
    assert_no_secret_logged(caplog)


async def test_a_database_outage_pauses_the_event_with_a_bounded_log_then_applies_it(
    harness: Harness, settings: StackSettings, caplog: pytest.LogCaptureFixture
) -> None:
    """8 s of refused connections: more than the error bound would survive (0.1 + 0.2 + 0.4 + 0.8 s),
    yet no attempt is used, nothing is dead-lettered, and the log holds one record of it."""
    caplog.set_level(logging.INFO)
    consumer, cycle_id = harness.consumer("outage"), uuid4()
    before = totals(harness.runtime.metrics.registry, consumer)
    harness.database.tries.clear()
    harness.database.down_until = time.monotonic() + 8.0
    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, DEAD_LETTER_TOPIC) as dead_letters:
        await harness.send(topic_for(OutageProbe), probe(OutageProbe, cycle_id), cycle_id)
        assert await eventually(lambda: harness.applied(cycle_id), timeout=40, what="the event after the outage") == [1]
        await dead_letters.poll()
        assert not [r for r in dead_letters.records if r.key == str(cycle_id).encode()]
    refused = [t for t in harness.database.tries if t < harness.database.down_until]
    gaps = gaps_between(refused)
    assert 4 <= len(refused) <= 12 and min(gaps) >= 0.09, f"paused, no tight loop: {gaps}"
    assert max(gaps) < POLICY.outage_pause_max_seconds + 1.0
    after = totals(harness.runtime.metrics.registry, consumer)
    assert after["retries:outage"] - before["retries:outage"] == len(refused)
    assert after["retries:error"] == before["retries:error"]
    assert all(after[f"dead_letters:{kind}"] == before[f"dead_letters:{kind}"] for kind in DEAD_LETTER_KINDS)
    ours = [r for r in caplog.records if r.name == "shared.consumers"]
    assert len(ours) == 1 and ours[0].levelno == logging.ERROR and ours[0].__dict__["cause"] == "outage"
    assert "ConnectionRefusedError" in ours[0].__dict__["error"] or "OperationalError" in ours[0].__dict__["error"]
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1
    assert len(caplog.records) <= 4 * len(refused) + 10, "FastStream's own lines stay a few per delivery"


async def test_when_kafka_refuses_the_dead_letter_the_message_waits_and_is_not_lost(
    harness: Harness, settings: StackSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    consumer, cycle_id = harness.consumer("poison"), uuid4()
    publish = harness.runtime.broker.publish
    refused: list[float] = []
    kafka_back = time.monotonic() + 3.0

    async def publish_unless_dead_letter(message: Any, topic: str = "", **options: Any) -> Any:
        if topic == DEAD_LETTER_TOPIC and time.monotonic() < kafka_back:
            refused.append(time.monotonic())
            raise KafkaConnectionError("Unable to bootstrap from 127.0.0.1:19092")
        return await publish(message, topic, **options)

    monkeypatch.setattr(harness.runtime.broker, "publish", publish_unless_dead_letter)
    before = totals(harness.runtime.metrics.registry, consumer)
    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, DEAD_LETTER_TOPIC) as dead_letters:
        await harness.send(topic_for(PoisonProbe), b"[1, 2, 3]", cycle_id)
        await harness.send(topic_for(PoisonProbe), probe(PoisonProbe, cycle_id, value=2), cycle_id)
        assert await eventually(lambda: harness.applied(cycle_id), what="the event after the poison") == [2]
        found = await dead_letters.wait_for(lambda r: r.key == str(cycle_id).encode())
    assert len(found) == 1 and found[0].value == b"[1, 2, 3]"
    gaps = gaps_between(refused)
    assert 2 <= len(refused) <= 10 and min(gaps) >= 0.09, gaps
    after = totals(harness.runtime.metrics.registry, consumer)
    assert after["dead_letters:invalid"] - before["dead_letters:invalid"] == 1
    assert after["retries:outage"] - before["retries:outage"] == len(refused)


async def test_every_consumer_exposes_its_failure_series_at_zero_from_registration(harness: Harness) -> None:
    for name in ("poison", "flaky", "outage"):
        for kind in DEAD_LETTER_KINDS:
            harness.sample("hlm360_dead_letters_total", consumer=harness.consumer(name), kind=kind)
        for cause in RETRY_CAUSES:
            harness.sample("hlm360_consumer_retries_total", consumer=harness.consumer(name), cause=cause)
    assert harness.sample("hlm360_dead_letters_total", consumer=harness.consumer("outage"), kind="rejected") == 0


def gaps_between(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def totals(registry: CollectorRegistry, consumer: str) -> dict[str, float]:
    def value(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, {"consumer": consumer, **labels}) or 0.0

    return {
        **{f"dead_letters:{k}": value("hlm360_dead_letters_total", kind=k) for k in DEAD_LETTER_KINDS},
        **{f"retries:{c}": value("hlm360_consumer_retries_total", cause=c) for c in RETRY_CAUSES},
    }


def assert_no_secret_logged(caplog: pytest.LogCaptureFixture) -> None:
    formatter = JsonFormatter("itest")
    for record in caplog.records:
        assert SECRET not in formatter.format(record), record.getMessage()


# Classification (no broker needed).


def _raised_from(error: BaseException, cause: BaseException) -> BaseException:
    error.__cause__ = cause
    return error


OUTAGES: list[Callable[[], BaseException]] = [
    lambda: ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
    lambda: OSError("Multiple exceptions: [Errno 111] ..."),
    lambda: TimeoutError(),
    lambda: sa.OperationalError("SELECT 1", {}, Exception("server closed the connection")),
    lambda: sa.InterfaceError("SELECT 1", {}, Exception("connection is closed")),
    lambda: sa.DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True),
    lambda: sa.TimeoutError("QueuePool limit reached"),
    lambda: asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    lambda: asyncpg.exceptions.TooManyConnectionsError("too many clients"),
    lambda: asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
    lambda: asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
    lambda: KafkaConnectionError("Unable to bootstrap"),
    lambda: KafkaTimeoutError(),
    lambda: _raised_from(RuntimeError("wrapped"), ConnectionResetError(errno.ECONNRESET, "reset")),
]
NOT_OUTAGES: list[Callable[[], BaseException]] = [
    lambda: RuntimeError("bug"),
    lambda: ValueError("bad"),
    lambda: KeyError("x"),
    lambda: RecursionError(),
    lambda: FileNotFoundError(errno.ENOENT, "template.html"),
    lambda: sa.IntegrityError("INSERT", {}, Exception("duplicate key")),
    lambda: sa.DBAPIError("SELECT 1", {}, Exception("syntax"), connection_invalidated=False),
    lambda: MessageSizeTooLargeError(),
]


@pytest.mark.parametrize("make", OUTAGES)
def test_unreachable_infrastructure_is_an_outage(make: Callable[[], BaseException]) -> None:
    assert is_outage(make())


@pytest.mark.parametrize("make", NOT_OUTAGES)
def test_other_errors_are_not_outages(make: Callable[[], BaseException]) -> None:
    assert not is_outage(make())


def test_a_failure_is_described_by_classes_and_codes_never_by_its_message() -> None:
    error = sa.OperationalError("INSERT INTO people VALUES ($1)", {"name": SECRET}, Exception(SECRET))
    error.__cause__ = ConnectionRefusedError(errno.ECONNREFUSED, SECRET)
    described = describe_failure(error)
    assert described == "OperationalError <- ConnectionRefusedError [ECONNREFUSED]"


def test_pauses_double_and_are_capped_by_cause() -> None:
    policy = RetryPolicy()
    assert [policy.pause(n, cause="error") for n in range(1, 7)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0]
    assert [policy.pause(n, cause="outage") for n in (1, 5, 8, 1000)] == [0.2, 3.2, 25.6, 30.0]


def test_the_failure_book_is_bounded() -> None:
    book = FailureBook(limit=3)
    for n in range(10):
        book.of(f"m{n}").attempts += 1
    assert len(book) == 3 and book.peek("m0") is None and book.peek("m9") is not None
    book.forget("m9")
    assert book.peek("m9") is None
