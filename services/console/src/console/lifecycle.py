"""Feeds the console's pipeline (domain.Pipeline) from the lifecycle topics on Kafka, with the
operators' login: read from the beginning at start, then follow. No consumer group (nothing is
committed: the console reads, it never consumes for anyone), and only the envelope of each event
is parsed (type, cycle id, time), bounded before any JSON parser runs."""

from __future__ import annotations

import asyncio
import json
import logging
from uuid import UUID

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import AwareDatetime, BaseModel, ValidationError

from console.pipeline import STAGE_OF_EVENT, Pipeline
from shared.contracts.events import EVENT_TYPES
from shared.contracts.topics import topic_for
from shared.inbound import InboundLimits, Undecodable, check_body
from shared.messaging import client_options
from shared.settings import KafkaClientSettings

log = logging.getLogger(__name__)
LIFECYCLE_TOPICS = tuple(topic_for(t) for t in EVENT_TYPES if t.__name__ in STAGE_OF_EVENT)
LIMITS = InboundLimits(max_bytes=512 * 1024, max_depth=32)


class Envelope(BaseModel):
    event_type: str
    cycle_id: UUID
    occurred_at: AwareDatetime


def envelope(body: bytes | None) -> Envelope | None:
    """The envelope of one message, or None if it is not a readable lifecycle event (those are the
    consumers' business: they dead-letter it)."""
    if body is None:
        return None
    try:
        check_body(body, LIMITS)
        return Envelope.model_validate(json.loads(body))
    except (Undecodable, ValueError, ValidationError):
        return None


class LifecycleFeed:
    """Keeps `pipeline` up to date; `caught_up` once everything on the topics at start is read."""

    def __init__(self, access: KafkaClientSettings, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.caught_up = asyncio.Event()
        self.last_error: str | None = None
        self._access = access
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="console-lifecycle-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # Kafka away: show it on the page, try again
                self.last_error = type(error).__name__
                log.warning("lifecycle feed failed; retrying", extra={"error": type(error).__name__})
                await asyncio.sleep(5)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(**client_options(self._access), enable_auto_commit=False, group_id=None)
        await consumer.start()
        try:
            partitions = [
                TopicPartition(topic, p)
                for topic in LIFECYCLE_TOPICS
                for p in sorted(consumer.partitions_for_topic(topic) or await _partitions(consumer, topic))
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            self.last_error = None
            while True:
                batches = await consumer.getmany(timeout_ms=1000, max_records=2000)
                for records in batches.values():
                    for record in records:
                        self._take(record.value)
                if not self.caught_up.is_set() and await _reached(consumer, ends):
                    self.caught_up.set()
                    log.info("lifecycle feed caught up", extra={"events": self.pipeline.events_seen})
        finally:
            await consumer.stop()

    def _take(self, body: bytes | None) -> None:
        found = envelope(body)
        if found is not None:
            self.pipeline.apply(event_type=found.event_type, cycle_id=found.cycle_id, occurred_at=found.occurred_at)


async def _reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for partition, end in ends.items():
        if await consumer.position(partition) < end:
            return False
    return True


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    """The topic's partitions, asking the cluster for fresh metadata (a topic not yet known)."""
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()
