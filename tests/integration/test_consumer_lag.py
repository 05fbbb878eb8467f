"""Consumer lag against the real Kafka: a group with unread messages shows them in
hlm360_consumer_lag, and a service's own login reads its own groups' lag and nobody else's."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from shared.consumer_lag import ConsumerLag, LagUnknown
from shared.contracts.channels import INVITATIONS, reads
from shared.contracts.events import CycleOpened
from shared.contracts.topics import NAMESPACE, topic_for
from shared.metrics import ServiceMetrics
from tests.config import StackSettings, kafka_options
from tests.support import eventually

TOPIC = topic_for(CycleOpened)


def gauge(metrics: ServiceMetrics, group: str, topic: str) -> float | None:
    return metrics.registry.get_sample_value("hlm360_consumer_lag", {"group": group, "topic": topic})


@pytest.fixture
async def operator(settings: StackSettings) -> AsyncIterator[dict[str, Any]]:
    yield kafka_options(settings.hlm360_kafka_bootstrap_servers)


async def commit(options: dict[str, Any], group: str, offsets: dict[TopicPartition, int]) -> None:
    """Commit `offsets` for `group` as its consumer would (without reading anything)."""
    consumer = AIOKafkaConsumer(**options, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit({partition: OffsetAndMetadata(offset, "") for partition, offset in offsets.items()})
    finally:
        await consumer.stop()


async def partitions_of(options: dict[str, Any], topic: str) -> list[TopicPartition]:
    """The topic's partitions, once the broker has them all led (a topic this run just created)."""
    admin = AIOKafkaAdminClient(**options)
    await admin.start()
    try:

        async def described() -> list[TopicPartition] | None:
            (found,) = await admin.describe_topics([topic])
            led = [p for p in found["partitions"] if p["leader"] >= 0]
            return [TopicPartition(topic, p["partition"]) for p in led] if not found["error_code"] and led else None

        partitions: list[TopicPartition] = await eventually(described, what=f"{topic}'s partitions")
        return partitions
    finally:
        await admin.close()


async def end_offsets(options: dict[str, Any], topic: str) -> dict[TopicPartition, int]:
    partitions = await partitions_of(options, topic)
    consumer = AIOKafkaConsumer(**options, enable_auto_commit=False)
    await consumer.start()
    try:
        found: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return found
    finally:
        await consumer.stop()


async def produce(options: dict[str, Any], count: int) -> None:
    """`count` messages on partition 0 of TOPIC (this run's namespace: no service reads them)."""
    await partitions_of(options, TOPIC)
    producer = AIOKafkaProducer(**options)
    await producer.start()
    try:
        for number in range(count):
            await producer.send_and_wait(TOPIC, f'{{"probe": {number}}}'.encode(), partition=0)
    finally:
        await producer.stop()


async def test_a_group_with_unread_messages_shows_them_as_lag(operator: dict[str, Any]) -> None:
    group = f"lag-probe-{uuid.uuid4().hex[:8]}"
    await produce(operator, 5)
    ends = await end_offsets(operator, TOPIC)
    first = TopicPartition(TOPIC, 0)
    # read up to the end everywhere but the last 3 messages of partition 0
    await commit(operator, group, {**ends, first: ends[first] - 3})

    metrics = ServiceMetrics("lag-test")
    lag = ConsumerLag(operator, [(group, TOPIC)], metrics)
    try:
        assert await lag.sample() == {(group, TOPIC): 3}
        assert gauge(metrics, group, TOPIC) == 3

        await commit(operator, group, ends)  # the group catches up
        await lag.sample()
        assert gauge(metrics, group, TOPIC) == 0
    finally:
        await lag.close()


async def test_a_group_that_never_committed_has_every_retained_message_to_read(operator: dict[str, Any]) -> None:
    group = f"lag-probe-{uuid.uuid4().hex[:8]}"
    await produce(operator, 2)
    ends = await end_offsets(operator, TOPIC)
    metrics = ServiceMetrics("lag-test")
    lag = ConsumerLag(operator, [(group, TOPIC)], metrics)
    try:
        await lag.sample()
    finally:
        await lag.close()
    value = gauge(metrics, group, TOPIC)
    assert value is not None and 0 < value <= sum(ends.values())


def real_topic_read_by_invitations() -> str:
    """A topic of the running stack (namespace `hlm360`, whatever this run's namespace) that the
    invitations principal reads."""
    return topic_for(reads(INVITATIONS)[0]).replace(f"{NAMESPACE}.", "hlm360.", 1)


async def test_a_service_login_reads_its_own_groups_lag(settings: StackSettings) -> None:
    own = kafka_options(settings.hlm360_kafka_bootstrap_servers, principal=INVITATIONS)
    topic, group = real_topic_read_by_invitations(), f"{INVITATIONS}.lag-probe"
    metrics = ServiceMetrics(INVITATIONS)
    lag = ConsumerLag(own, [(group, topic)], metrics)
    try:
        await lag.sample()
    finally:
        await lag.close()
    value = gauge(metrics, group, topic)
    assert value is not None and value >= 0


async def test_a_service_login_cannot_read_another_services_groups(settings: StackSettings) -> None:
    own = kafka_options(settings.hlm360_kafka_bootstrap_servers, principal=INVITATIONS)
    metrics = ServiceMetrics(INVITATIONS)
    lag = ConsumerLag(own, [("reports.lag-probe", real_topic_read_by_invitations())], metrics)
    try:
        with pytest.raises((LagUnknown, KafkaError)):
            await lag.sample()
    finally:
        await lag.close()
    assert gauge(metrics, "reports.lag-probe", real_topic_read_by_invitations()) is None
