"""The shared consumer wrapper, inbox and outbox relay against real Kafka and PostgreSQL."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Literal
from uuid import UUID, uuid4

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from shared.contracts.events import CycleEvent
from shared.contracts.topics import DEAD_LETTER_TOPIC, topic_for
from shared.db import OutboxMessage, ProcessedEvent, UnitOfWork, create_engine, session_factory
from shared.errors import Rejected
from shared.messaging import OutboxPublishFailed, OutboxRelay, ensure_topics
from shared.service import ServiceRuntime
from shared.settings import ServiceSettings
from tests.config import StackSettings, kafka_options
from tests.integration.conftest import scratch_database
from tests.support import TopicReader, eventually, header


class ProbeRecorded(CycleEvent):
    """Test-only event on its own topic."""

    event_type: Literal["ProbeRecorded"] = "ProbeRecorded"
    value: int


class ProbeAcknowledged(CycleEvent):
    event_type: Literal["ProbeAcknowledged"] = "ProbeAcknowledged"
    value: int


PROBE_TOPIC = topic_for(ProbeRecorded)
ACK_TOPIC = topic_for(ProbeAcknowledged)
failures_left: dict[UUID, int] = {}


async def record_probe(event: ProbeRecorded, uow: UnitOfWork) -> None:
    if event.value < 0:
        raise Rejected("value must not be negative")
    await uow.session.execute(
        text("INSERT INTO probe_applied (event_id, cycle_id, value) VALUES (:e, :c, :v)"),
        {"e": event.event_id, "c": event.cycle_id, "v": event.value},
    )
    uow.emit(ProbeAcknowledged(producer="itest", cycle_id=event.cycle_id, value=event.value))
    if failures_left.get(event.cycle_id, 0) > 0:
        failures_left[event.cycle_id] -= 1
        raise RuntimeError("simulated transient failure after writing")


@pytest.fixture(scope="module")
async def runtime(
    settings: StackSettings, test_engine: AsyncEngine, test_database_url: str
) -> AsyncIterator[ServiceRuntime]:
    await ensure_topics(
        kafka_options(settings.hlm360_kafka_bootstrap_servers), (PROBE_TOPIC, ACK_TOPIC, DEAD_LETTER_TOPIC)
    )
    async with test_engine.begin() as connection:
        await connection.execute(
            text(
                "CREATE TABLE IF NOT EXISTS probe_applied "
                "(event_id uuid PRIMARY KEY, cycle_id uuid NOT NULL, value int NOT NULL)"
            )
        )
    runtime = ServiceRuntime(
        ServiceSettings(
            service_name="itest",
            database_url=test_database_url,  # type: ignore[arg-type]
            kafka_bootstrap_servers=settings.hlm360_kafka_bootstrap_servers,
            http_port=0,
            consumer_retry_backoff_seconds=0.05,
            outbox_poll_seconds=0.1,
        )
    )
    runtime.consumers.on(ProbeRecorded, name=f"probe-{uuid4().hex[:8]}")(record_probe)
    await runtime.start()
    yield runtime
    await runtime.stop()


async def applied(engine: AsyncEngine, cycle_id: UUID) -> list[int]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT value FROM probe_applied WHERE cycle_id = :c ORDER BY value"), {"c": cycle_id}
        )
        return [r[0] for r in rows]


async def publish_raw(runtime: ServiceRuntime, body: bytes, key: UUID) -> None:
    await runtime.broker.publish(body, PROBE_TOPIC, key=str(key).encode())


async def test_event_is_applied_once_even_when_delivered_twice(
    runtime: ServiceRuntime, test_engine: AsyncEngine
) -> None:
    cycle_id = uuid4()
    event = ProbeRecorded(producer="itest", cycle_id=cycle_id, value=7)
    await publish_raw(runtime, event.model_dump_json().encode(), cycle_id)
    await publish_raw(runtime, event.model_dump_json().encode(), cycle_id)
    follow_up = ProbeRecorded(producer="itest", cycle_id=cycle_id, value=8)
    await publish_raw(runtime, follow_up.model_dump_json().encode(), cycle_id)

    async def both_applied() -> list[int] | None:
        values = await applied(test_engine, cycle_id)
        return values if 8 in values else None

    assert await eventually(both_applied, what="probe applied") == [7, 8]


@pytest.mark.parametrize(
    ("body", "reason_fragment"),
    [
        (b"not json at all", "invalid event"),
        (b'{"event_type": "ProbeRecorded", "producer": "x"}', "cycle_id"),
        (b'{"event_type": "ProbeRecorded", "producer": "x", "cycle_id": "nope", "value": 1}', "cycle_id"),
        (
            b'{"event_type": "Other", "producer": "x", "cycle_id": "' + str(uuid4()).encode() + b'", "value": 1}',
            "event_type",
        ),
    ],
)
async def test_invalid_event_goes_to_dead_letter_and_consumer_keeps_going(
    runtime: ServiceRuntime, test_engine: AsyncEngine, settings: StackSettings, body: bytes, reason_fragment: str
) -> None:
    cycle_id = uuid4()
    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, DEAD_LETTER_TOPIC) as dead_letters:
        await publish_raw(runtime, body, cycle_id)
        valid = ProbeRecorded(producer="itest", cycle_id=cycle_id, value=1)
        await publish_raw(runtime, valid.model_dump_json().encode(), cycle_id)
        found = await dead_letters.wait_for(lambda r: r.key == str(cycle_id).encode())
    assert found[0].value == body
    reason = header(found[0], "x-dead-letter-reason") or ""
    assert reason_fragment in reason
    assert header(found[0], "x-dead-letter-source-topic") == PROBE_TOPIC
    assert await eventually(lambda: applied(test_engine, cycle_id), what="valid event after bad one") == [1]


async def test_rejected_event_is_dead_lettered_with_the_reason_and_changes_nothing(
    runtime: ServiceRuntime, test_engine: AsyncEngine, settings: StackSettings
) -> None:
    cycle_id = uuid4()
    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, DEAD_LETTER_TOPIC) as dead_letters:
        event = ProbeRecorded(producer="itest", cycle_id=cycle_id, value=-1)
        await publish_raw(runtime, event.model_dump_json().encode(), cycle_id)
        found = await dead_letters.wait_for(lambda r: r.key == str(cycle_id).encode())
    assert header(found[0], "x-dead-letter-reason") == "rejected: value must not be negative"
    assert await applied(test_engine, cycle_id) == []


async def test_transient_failure_rolls_back_and_redelivery_applies_once_with_one_outbox_event(
    runtime: ServiceRuntime, test_engine: AsyncEngine, settings: StackSettings
) -> None:
    cycle_id = uuid4()
    failures_left[cycle_id] = 2
    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, ACK_TOPIC) as acks:
        event = ProbeRecorded(producer="itest", cycle_id=cycle_id, value=3)
        await publish_raw(runtime, event.model_dump_json().encode(), cycle_id)
        published = await acks.wait_for(lambda r: r.key == str(cycle_id).encode())
        assert await applied(test_engine, cycle_id) == [3]
        await acks.poll()
    assert failures_left[cycle_id] == 0
    assert len([r for r in acks.records if r.key == str(cycle_id).encode()]) == 1
    payload = json.loads(published[0].value)
    assert payload["event_type"] == "ProbeAcknowledged" and payload["value"] == 3
    assert header(published[0], "traceparent"), "trace context must travel through the outbox"


async def test_outbox_publishes_only_committed_events(runtime: ServiceRuntime, settings: StackSettings) -> None:
    committed, rolled_back = uuid4(), uuid4()
    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, ACK_TOPIC) as acks:
        async with runtime.uow() as uow:
            uow.emit(ProbeAcknowledged(producer="itest", cycle_id=rolled_back, value=1))
            # leaving without commit: rolled back
        async with runtime.uow() as uow:
            for value in range(5):
                uow.emit(ProbeAcknowledged(producer="itest", cycle_id=committed, value=value))
            await uow.commit()
        found = await acks.wait_for(lambda r: r.key == str(committed).encode(), count=5)
        await acks.poll()
    assert [json.loads(r.value)["value"] for r in found] == [0, 1, 2, 3, 4], "key order preserved"
    assert not [r for r in acks.records if r.key == str(rolled_back).encode()]


async def test_metrics_count_applied_duplicate_and_dead_lettered_events(
    runtime: ServiceRuntime, test_engine: AsyncEngine
) -> None:
    registry = runtime.metrics.registry

    def sample(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, labels) or 0.0

    applied_before = totals(registry, "hlm360_events_applied")
    cycle_id = uuid4()
    event = ProbeRecorded(producer="itest", cycle_id=cycle_id, value=42)
    await publish_raw(runtime, event.model_dump_json().encode(), cycle_id)
    await publish_raw(runtime, event.model_dump_json().encode(), cycle_id)
    await publish_raw(runtime, b"garbage", cycle_id)
    await eventually(lambda: applied(test_engine, cycle_id), what="probe applied")

    async def counted() -> bool:
        return (
            totals(registry, "hlm360_events_applied") >= applied_before + 1
            and totals(registry, "hlm360_events_duplicate") >= 1
            and totals(registry, "hlm360_dead_letters") >= 1
        )

    assert await eventually(counted, what="metrics to count the deliveries")
    assert sample("hlm360_service_info", service="itest") == 1.0


def totals(registry: CollectorRegistry, metric_name: str) -> float:
    return sum(
        sample.value
        for metric in registry.collect()
        if metric.name == metric_name
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


async def test_a_web_only_instance_neither_consumes_nor_runs_jobs_nor_relays(settings: StackSettings) -> None:
    """RUN_CONSUMERS / RUN_JOBS / RUN_OUTBOX_RELAY off: the instance serves HTTP and writes, nothing else;
    a worker instance of the same service (on the same database) does the rest."""
    await ensure_topics(
        kafka_options(settings.hlm360_kafka_bootstrap_servers), (PROBE_TOPIC, ACK_TOPIC, DEAD_LETTER_TOPIC)
    )
    consumed: list[UUID] = []
    ticks: list[int] = []

    async def remember(event: ProbeRecorded, uow: UnitOfWork) -> None:
        consumed.append(event.cycle_id)

    async with scratch_database(settings, "web_only_itest") as database_url:
        engine = create_engine(database_url)
        async with engine.begin() as connection:
            await connection.run_sync(
                SQLModel.metadata.create_all, tables=[OutboxMessage.__table__, ProcessedEvent.__table__]
            )

        def instance(**roles: bool) -> ServiceRuntime:
            runtime = ServiceRuntime(
                ServiceSettings(
                    service_name="itest-roles",
                    database_url=database_url,  # type: ignore[arg-type]
                    kafka_bootstrap_servers=settings.hlm360_kafka_bootstrap_servers,
                    http_port=0,
                    outbox_poll_seconds=0.1,
                    consumer_group_prefix=f"itest-roles-{uuid4().hex[:8]}",
                    **roles,
                )
            )
            runtime.consumers.on(ProbeRecorded, name="probe-roles")(remember)
            runtime.every(0.05, name="tick")(lambda _: _tick(ticks))
            return runtime

        web = instance(run_consumers=False, run_jobs=False, run_outbox_relay=False)
        await web.start()
        try:
            cycle_id = uuid4()
            await publish_raw(
                web, ProbeRecorded(producer="itest", cycle_id=cycle_id, value=1).model_dump_json().encode(), cycle_id
            )
            async with web.uow() as uow:
                uow.emit(ProbeAcknowledged(producer="itest", cycle_id=cycle_id, value=1))
                await uow.commit()
            assert await web.healthy(), "a web-only instance still checks the database and the broker"
            await asyncio.sleep(1.5)
            assert consumed == [] and ticks == []
            async with engine.connect() as connection:
                unpublished = (
                    await connection.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
                ).scalar_one()
            assert unpublished == 1
        finally:
            await web.stop()

        worker = instance()
        await worker.start()
        try:

            async def relayed() -> bool:
                async with engine.connect() as connection:
                    return (
                        await connection.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL"))
                    ).scalar_one() == 0

            await eventually(relayed, what="the worker to relay what the web-only instance wrote")
            await eventually(lambda: cycle_id in consumed, what="the worker to consume")
            assert ticks, "the worker runs the jobs"
        finally:
            await worker.stop()
            await engine.dispose()


async def _tick(ticks: list[int]) -> None:
    ticks.append(1)


async def test_an_event_kafka_refuses_is_marked_with_the_error_and_holds_the_ones_after_it(
    settings: StackSettings,
) -> None:
    """A row Kafka will not take (here: over the producer's 1 MiB request limit) is retried, not
    dropped: the rows before it go, it records attempts and the error, later rows wait so key order
    holds, and the failure is counted. Once an operator deals with the row, the rest leave in order."""
    await ensure_topics(kafka_options(settings.hlm360_kafka_bootstrap_servers), (ACK_TOPIC,))
    cycle_id = uuid4()
    async with scratch_database(settings, "relay_stuck_itest") as database_url:
        engine = create_engine(database_url)
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.create_all, tables=[OutboxMessage.__table__])
        runtime = ServiceRuntime(
            ServiceSettings(
                service_name="itest-relay",
                database_url=database_url,  # type: ignore[arg-type]
                kafka_bootstrap_servers=settings.hlm360_kafka_bootstrap_servers,
                http_port=0,
                run_consumers=False,
                run_jobs=False,
                run_outbox_relay=False,
            )
        )
        await runtime.start()
        try:
            async with runtime.uow() as uow:
                uow.emit(ProbeAcknowledged(producer="itest", cycle_id=cycle_id, value=1))
                uow.emit(ProbeAcknowledged(producer="itest", cycle_id=cycle_id, value=2))
                uow.emit(ProbeAcknowledged(producer="itest", cycle_id=cycle_id, value=3))
                await uow.commit()
            async with engine.begin() as connection:  # the second event becomes one Kafka refuses
                await connection.execute(
                    text(
                        "UPDATE outbox SET payload = payload || repeat(' ', 2 * 1024 * 1024) "
                        "WHERE id = (SELECT min(id) + 1 FROM outbox)"
                    )
                )
            relay = OutboxRelay(session_factory(engine), runtime.broker, metrics=runtime.metrics)

            async with TopicReader(settings.hlm360_kafka_bootstrap_servers, ACK_TOPIC) as acks:
                for attempt in (1, 2):
                    with pytest.raises(OutboxPublishFailed) as failed:
                        await relay.publish_batch()
                    assert failed.value.event_type == "ProbeAcknowledged"
                    async with engine.connect() as connection:
                        state = (
                            await connection.execute(
                                text("SELECT published_at IS NOT NULL, attempts, last_error FROM outbox ORDER BY id")
                            )
                        ).all()
                    assert [(published, tries) for published, tries, _ in state] == [
                        (True, 1),
                        (False, attempt),
                        (False, 0),
                    ]
                    assert "MessageSizeTooLargeError" in state[1][2] and "cycle" not in state[1][2]
                assert (
                    runtime.metrics.registry.get_sample_value(
                        "hlm360_outbox_publish_failures_total", {"event_type": "ProbeAcknowledged"}
                    )
                    == 2
                )

                async with engine.begin() as connection:  # what an operator might do: drop the bad row
                    await connection.execute(text("DELETE FROM outbox WHERE id = :id"), {"id": failed.value.outbox_id})
                assert await relay.publish_batch() == 1
                found = await acks.wait_for(lambda r: r.key == str(cycle_id).encode(), count=2)
            assert [json.loads(r.value)["value"] for r in found] == [1, 3]
        finally:
            await runtime.stop()
            await engine.dispose()


async def test_background_jobs_are_counted_by_outcome_and_a_failure_does_not_stop_them(
    settings: StackSettings,
) -> None:
    """Operators see each job's runs (ok / failed) and its last success; a failing run is logged,
    counted, and the job runs again on its next tick."""
    failures_to_come = [RuntimeError("first"), RuntimeError("second")]
    async with scratch_database(settings, "jobs_itest") as database_url:
        runtime = ServiceRuntime(
            ServiceSettings(
                service_name="itest-jobs",
                database_url=database_url,  # type: ignore[arg-type]
                kafka_bootstrap_servers=settings.hlm360_kafka_bootstrap_servers,
                http_port=0,
                run_consumers=False,
                run_outbox_relay=False,
            )
        )

        @runtime.every(0.05, name="flaky")
        async def flaky(_: ServiceRuntime) -> None:
            if failures_to_come:
                raise failures_to_come.pop(0)

        def sample(name: str, **labels: str) -> float:
            return runtime.metrics.registry.get_sample_value(name, labels) or 0.0

        await runtime.start()
        try:
            await eventually(
                lambda: sample("hlm360_background_job_runs_total", task="flaky", outcome="ok") >= 2,
                what="the job to run cleanly after two failures",
            )
        finally:
            await runtime.stop()
    assert sample("hlm360_background_job_runs_total", task="flaky", outcome="failed") == 2
    assert sample("hlm360_background_job_last_success_timestamp_seconds", task="flaky") > 1.7e9


async def test_the_runtime_samples_its_consumer_groups_lag_in_a_job(runtime: ServiceRuntime) -> None:
    ((group, topic),) = runtime.consumers.groups
    assert topic == PROBE_TOPIC

    def value(name: str, **labels: str) -> float | None:
        return runtime.metrics.registry.get_sample_value(name, labels)

    await eventually(
        lambda: value("hlm360_background_job_runs_total", task="consumer-lag", outcome="ok"),
        what="a consumer-lag run",
    )
    assert value("hlm360_consumer_lag", group=group, topic=topic) is not None
    assert value("hlm360_background_job_interval_seconds", task="consumer-lag") == 30.0
    assert value("hlm360_background_job_runs_total", task="consumer-lag", outcome="failed") == 0
