"""Helpers for tests that cross Kafka and PostgreSQL: polling with a deadline, publishing events as
another service or NHS system would, reading topics."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, overload
from uuid import UUID, uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient

from shared.contracts.events import (
    CommentAnswer,
    CycleClosed,
    CycleOpened,
    Event,
    ImportanceAnswer,
    ItemAnswer,
    RatingSubmitted,
)
from shared.contracts.topics import topic_for
from shared.contracts.vocabulary import CloseReason, RaterGroup
from tests.config import kafka_options

T = TypeVar("T")


@overload
async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float = ..., interval: float = ..., what: str = ...
) -> T: ...


@overload
async def eventually(
    probe: Callable[[], T | None], *, timeout: float = ..., interval: float = ..., what: str = ...
) -> T: ...


async def eventually(
    probe: Callable[[], Any],
    *,
    timeout: float = 30.0,
    interval: float = 0.2,
    what: str = "",
) -> Any:
    """Poll until `probe` (a coroutine function, or a plain function such as a lambda reading
    files) returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        result = probe()
        last = await result if inspect.isawaitable(result) else result
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}; last value {last!r}")


async def publish_events(bootstrap: str, *events: Event | tuple[str, bytes, bytes]) -> None:
    """Publish events to their topics, keyed by aggregate id (acks=all), or raw (topic, key, body) triples."""
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all")
    await producer.start()
    try:
        for item in events:
            if isinstance(item, tuple):
                topic, key, body = item
                await producer.send_and_wait(topic, body, key=key)
            else:
                await producer.send_and_wait(topic_for(item), item.model_dump_json().encode(), key=item.kafka_key())
    finally:
        await producer.stop()


def closed_cycle(
    cycle_id: UUID,
    *,
    participant_id: str,
    participant_email: str | None = None,
    programme: str | None = None,
    organisation: str = "Example NHS Foundation Trust",
    producer: str = "test",
    seed: int | None = None,
    shift: int = 0,
    other_comment: str | None = None,
) -> tuple[CycleOpened, list[RatingSubmitted], CycleClosed]:
    """What invitations and ratings put on Kafka for one whole cycle of Amara Okafor's: opened, a
    realistic rating from self, line manager, 3 peers, 3 direct reports and 2 others (reports.bench),
    closed. `other_comment` replaces the two others' comments (a group below the anonymity threshold)."""
    from reports.bench import realistic_responses  # test data shared with the benchmark

    responses = realistic_responses(seed=11 + shift if seed is None else seed, shift=shift)
    counts: dict[RaterGroup, int] = {}
    ratings = []
    for response in responses:
        counts[response.group] = counts.get(response.group, 0) + 1
        comments = [CommentAnswer(question_id=c.question_id, text=c.text) for c in response.comments]
        if other_comment is not None and response.group is RaterGroup.OTHER:
            comments = [CommentAnswer(question_id="overall_strengths", text=other_comment)]
        ratings.append(
            RatingSubmitted(
                producer=producer,
                cycle_id=cycle_id,
                rater_id=uuid4(),
                group=response.group,
                questionnaire_version="hlm360-default-1",
                answers=[ItemAnswer(item_id=a.item_id, dimension=a.dimension, score=a.score) for a in response.answers],
                importance=[ImportanceAnswer(dimension=d, score=s) for d, s in response.importance.items()],
                comments=comments,
            )
        )
    opened = CycleOpened(
        producer=producer,
        cycle_id=cycle_id,
        participant_id=participant_id,
        participant_name="Amara Okafor",
        organisation=organisation,
        region="London",
        programme=programme,
        participant_email=participant_email,
        deadline=datetime.now(UTC) + timedelta(days=1),
        invited_per_group=counts,
    )
    closed = CycleClosed(
        producer=producer, cycle_id=cycle_id, reason=CloseReason.ALL_RESPONDED, responses_per_group=counts
    )
    return opened, ratings, closed


class TopicReader:
    """Reads whole topics from the beginning with a throwaway consumer group."""

    def __init__(self, bootstrap: str, *topics: str) -> None:
        self._consumer = AIOKafkaConsumer(
            *topics,
            **kafka_options(bootstrap),
            group_id=f"test-reader-{uuid4()}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        self.records: list[ConsumerRecord[bytes, bytes]] = []
        self._seen: set[tuple[str, int, int]] = set()

    async def __aenter__(self) -> TopicReader:
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._consumer.stop()

    async def poll(self) -> list[ConsumerRecord[bytes, bytes]]:
        batches = await self._consumer.getmany(timeout_ms=200)
        for records in batches.values():
            for record in records:
                # a rebalance rewinds an uncommitted reader to the start: keep each offset once
                position = (record.topic, record.partition, record.offset)
                if position not in self._seen:
                    self._seen.add(position)
                    self.records.append(record)
        return self.records

    async def wait_for(
        self, match: Callable[[ConsumerRecord[bytes, bytes]], bool], *, count: int = 1, timeout: float = 30.0
    ) -> list[ConsumerRecord[bytes, bytes]]:
        async def probe() -> list[ConsumerRecord[bytes, bytes]] | None:
            found = [r for r in await self.poll() if match(r)]
            return found if len(found) >= count else None

        return await eventually(probe, timeout=timeout, interval=0.05, what=f"{count} matching record(s)")


def header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode()
    return None


async def committed_offsets(bootstrap: str, group_id: str) -> dict[tuple[str, int], int]:
    """Offsets a consumer group has committed, by (topic, partition): the next offset it will read,
    so every record below it was handled (applied or dead-lettered), never skipped or still retried."""
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_id)
    finally:
        await admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}
