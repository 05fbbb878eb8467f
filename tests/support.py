"""Helpers for tests that cross Kafka and PostgreSQL: polling with a deadline, publishing events as
another service or NHS system would, reading topics."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from shared.contracts.events import Event
from shared.contracts.topics import topic_for

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T | None] | T | None],
    *,
    timeout: float = 30.0,
    interval: float = 0.2,
    what: str = "",
) -> T:
    """Poll until `probe` (a coroutine function, or a plain function such as a lambda reading
    files) returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        result = probe()
        last = await result if inspect.isawaitable(result) else result  # type: ignore[assignment]
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}; last value {last!r}")


async def publish_events(bootstrap: str, *events: Event | tuple[str, bytes, bytes]) -> None:
    """Publish events to their topics, keyed by aggregate id (acks=all), or raw (topic, key, body) triples."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
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


class TopicReader:
    """Reads whole topics from the beginning with a throwaway consumer group."""

    def __init__(self, bootstrap: str, *topics: str) -> None:
        self._consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
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
            return value.decode()
    return None
