"""Consumer lag: how many messages each of a service's consumer groups has still to read, per topic
(the sum over partitions of the end offset minus the group's committed offset; a partition the group
has never committed on counts from its first retained message, as `auto_offset_reset="earliest"`
reads it). Sampled by the service itself with its own Kafka login, which may describe its own
groups and the topics it reads, and nothing else (docs/adr/0018)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from contextlib import suppress
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.metrics import ServiceMetrics

GroupTopic = tuple[str, str]  # (consumer group, topic)


def lag_by_topic(
    *,
    committed: Mapping[TopicPartition, int],
    beginning: Mapping[TopicPartition, int],
    end: Mapping[TopicPartition, int],
) -> dict[str, int]:
    """Messages left per topic: end - committed on each partition, counted from the first retained
    message where the group has no committed offset or retention has already deleted past it (the
    group resumes there), never below 0."""
    lag: dict[str, int] = {}
    for partition, last in end.items():
        start = max(committed.get(partition, -1), beginning.get(partition, 0))
        lag[partition.topic] = lag.get(partition.topic, 0) + max(last - start, 0)
    return lag


class LagUnknown(Exception):
    """The broker would not say a group's or topic's offsets (missing topic, or not authorised)."""


class ConsumerLag:
    """Sets `hlm360_consumer_lag{group, topic}` for the given groups; the clients stay open between
    samples and are closed by `close()`."""

    def __init__(self, options: Mapping[str, Any], routes: Iterable[GroupTopic], metrics: ServiceMetrics) -> None:
        self._options = dict(options)
        self._topics_of: dict[str, set[str]] = {}
        for group, topic in routes:
            self._topics_of.setdefault(group, set()).add(topic)  # no series until sampled: unknown is not 0
        self._metrics = metrics
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None:
            admin = AIOKafkaAdminClient(**self._options, client_id="hlm360-consumer-lag")
            try:
                await admin.start()
            except BaseException:  # also a cancellation while connecting: leave nothing open
                await admin.close()
                raise
            self._admin = admin
        if self._offsets is None:
            # no group: reads offsets only, never joins or commits for anyone
            offsets = AIOKafkaConsumer(**self._options, client_id="hlm360-consumer-lag", enable_auto_commit=False)
            try:
                await offsets.start()
            except BaseException:
                await offsets.stop()
                raise
            self._offsets = offsets
        return self._admin, self._offsets

    async def sample(self, *, timeout: float = 60.0) -> dict[GroupTopic, int]:
        """Read the committed and end offsets of every group's topics and set the gauge; on any
        failure the clients are closed, and the next sample connects afresh."""
        try:
            async with asyncio.timeout(timeout):  # end_offsets may wait forever for a missing partition
                return await self._sample()
        except BaseException:
            await self.close()
            raise

    async def _sample(self) -> dict[GroupTopic, int]:
        admin, offsets = await self._clients()
        topics = sorted({topic for wanted in self._topics_of.values() for topic in wanted})
        described = await admin.describe_topics(topics)
        refused = sorted(
            f"{found['topic']} (error {found['error_code']})" for found in described if found["error_code"]
        )
        if refused:
            raise LagUnknown(f"cannot describe {', '.join(refused)}")
        partitions = [
            TopicPartition(found["topic"], each["partition"]) for found in described for each in found["partitions"]
        ]
        end = await offsets.end_offsets(partitions)
        beginning = await offsets.beginning_offsets(partitions)
        sampled: dict[GroupTopic, int] = {}
        for group, wanted in sorted(self._topics_of.items()):
            mine = [p for p in partitions if p.topic in wanted]
            committed = await admin.list_consumer_group_offsets(group, partitions=mine)
            if set(mine) - set(committed):  # every partition asked for is answered (-1: none), unless refused
                raise LagUnknown(f"the broker did not give group {group}'s offsets (not authorised?)")
            lag = lag_by_topic(
                committed={p: meta.offset for p, meta in committed.items()},
                beginning=beginning,
                end={p: end[p] for p in mine},
            )
            for topic in wanted:
                sampled[(group, topic)] = lag.get(topic, 0)
                self._metrics.consumer_lag.labels(group=group, topic=topic).set(sampled[(group, topic)])
        return sampled

    async def close(self) -> None:
        admin, offsets, self._admin, self._offsets = self._admin, self._offsets, None, None
        with suppress(Exception):  # a broken connection has nothing left to close cleanly
            if offsets is not None:
                await offsets.stop()
        with suppress(Exception):
            if admin is not None:
                await admin.close()
