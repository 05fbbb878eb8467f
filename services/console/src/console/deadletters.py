"""The dead-letter library of the `hlm360` command line and the operators' console: read the dead-letter
topic and its audit as the operators' principal, replay dead letters to their source topics, discard
them, and record every decision on the audit topic (shared.contracts.deadletters, docs/adr/0019).

Topics are read from the beginning to the end they had when reading started, with no consumer group
(nothing is committed, nothing moves for anyone else). A replay is the original key, bytes and
headers on the source topic plus `x-hlm360-replay`; each replay is acknowledged before its audit entry
is written, so the audit never claims what the broker did not take (and a replayed message carries
its marker even if writing the audit then fails). Consumers' inboxes drop events they already
applied, which makes replaying safe."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import ValidationError

from console.domain import DeadLetter, replay_headers
from shared.contracts.deadletters import Action, DeadLetterAudit, DeadLetterRef
from shared.contracts.topics import DEAD_LETTER_AUDIT_TOPIC, DEAD_LETTER_TOPIC

Advance = Callable[[int], None]
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_UNPRINTABLE = re.compile(r"[^\x20-\x7E]")


class NoSuchTopic(Exception):
    """The topic does not exist on the broker (`hlm360 topics ensure` creates the contract's topics)."""


class ActionFailed(Exception):
    """Part of a replay or discard was done (and audited) before the broker refused the rest."""

    def __init__(self, done: list[DeadLetterAudit], error: BaseException) -> None:
        super().__init__(f"{len(done)} done before the broker refused: {type(error).__name__}")
        self.done = done


@dataclass(frozen=True)
class Snapshot:
    """A topic read to the end it had: its records, and how many there were to read."""

    letters: list[DeadLetter]
    total: int


def _letter(record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
    return DeadLetter(
        ref=DeadLetterRef(topic=record.topic, partition=record.partition, offset=record.offset),
        key=record.key,
        value=record.value or b"",
        headers=tuple((name, bytes(value or b"")) for name, value in record.headers or ()),
        timestamp=datetime.fromtimestamp(record.timestamp / 1000, tz=UTC),
    )


def _bounded(text: str, limit: int) -> str:
    return _UNPRINTABLE.sub("?", text)[:limit]


class DeadLetters:
    """Dead letters on one broker, as the principal of `options` (shared.messaging.client_options of
    the operators' login): it must read and write every topic."""

    def __init__(
        self,
        options: dict[str, Any],
        *,
        topic: str = DEAD_LETTER_TOPIC,
        audit_topic: str = DEAD_LETTER_AUDIT_TOPIC,
        read_timeout_seconds: float = 60.0,
        batch_size: int = 100,
    ) -> None:
        self._options = options
        self.topic = topic
        self.audit_topic = audit_topic
        self._read_timeout = read_timeout_seconds
        self._batch_size = batch_size

    async def _partitions(self, topic: str) -> list[TopicPartition]:
        """The topic's partitions, from the broker's metadata (a consumer knows only those it subscribed to)."""
        admin = AIOKafkaAdminClient(**self._options, client_id="hlm360-console")
        await admin.start()
        try:
            described = await admin.describe_topics([topic])
        finally:
            await admin.close()
        found = [t for t in described if t.get("topic") == topic and t.get("error_code", 0) == 0]
        if not found or not found[0].get("partitions"):
            raise NoSuchTopic(topic)
        return sorted(
            (TopicPartition(topic, p["partition"]) for p in found[0]["partitions"]), key=lambda tp: tp.partition
        )

    @asynccontextmanager
    async def _consumer(self, topic: str) -> AsyncIterator[tuple[AIOKafkaConsumer, list[TopicPartition]]]:
        partitions = await self._partitions(topic)
        consumer = AIOKafkaConsumer(
            **self._options, group_id=None, enable_auto_commit=False, client_id="hlm360-console"
        )
        await consumer.start()
        try:
            consumer.assign(partitions)
            yield consumer, partitions
        finally:
            await consumer.stop()

    async def _records(
        self, topic: str, *, on_total: Callable[[int], None] | None = None, advance: Advance | None = None
    ) -> list[ConsumerRecord[bytes, bytes]]:
        async with self._consumer(topic) as (consumer, partitions):
            begin = await consumer.beginning_offsets(partitions)
            end = await consumer.end_offsets(partitions)
            if on_total is not None:
                on_total(sum(end[tp] - begin[tp] for tp in partitions))
            waiting = {tp for tp in partitions if end[tp] > begin[tp]}
            for tp in partitions:
                consumer.seek(tp, begin[tp])
            found: list[ConsumerRecord[bytes, bytes]] = []
            deadline = time.monotonic() + self._read_timeout
            while waiting:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"reading {topic} took longer than {self._read_timeout:.0f}s")
                batches = await consumer.getmany(*waiting, timeout_ms=500)
                for tp, records in batches.items():
                    taken = [r for r in records if r.offset < end[tp]]
                    found += taken
                    if advance is not None:
                        advance(len(taken))
                for tp in list(waiting):
                    if await consumer.position(tp) >= end[tp]:
                        waiting.discard(tp)
            return found

    async def read(
        self, *, on_total: Callable[[int], None] | None = None, advance: Advance | None = None
    ) -> list[DeadLetter]:
        """Every dead letter the topic holds (oldest first in each partition)."""
        return [_letter(r) for r in await self._records(self.topic, on_total=on_total, advance=advance)]

    async def read_one(self, ref: DeadLetterRef) -> DeadLetter | None:
        """The dead letter at `ref`, or None (no such offset, or the broker no longer keeps it)."""
        if ref.topic != self.topic:
            return None
        async with self._consumer(self.topic) as (consumer, partitions):
            tp = TopicPartition(ref.topic, ref.partition)
            if tp not in partitions:
                return None
            begin, end = (await consumer.beginning_offsets([tp]))[tp], (await consumer.end_offsets([tp]))[tp]
            if not begin <= ref.offset < end:
                return None
            consumer.seek(tp, ref.offset)
            deadline = time.monotonic() + self._read_timeout
            while time.monotonic() < deadline:
                for record in (await consumer.getmany(tp, timeout_ms=500)).get(tp, []):
                    if record.offset == ref.offset:
                        return _letter(record)
                    if record.offset > ref.offset:
                        return None
            raise TimeoutError(f"reading {ref} took longer than {self._read_timeout:.0f}s")

    async def audit(self) -> list[DeadLetterAudit]:
        """Every decision recorded so far, in the order written to each partition (unreadable entries skipped)."""
        try:
            records = await self._records(self.audit_topic)
        except NoSuchTopic:
            return []
        entries = []
        for record in records:
            try:
                entries.append(DeadLetterAudit.model_validate_json(record.value or b""))
            except ValidationError:
                continue
        return entries

    def _entry(
        self, letter: DeadLetter, *, action: Action, action_id: UUID, by: str, at: datetime, to: DeadLetterRef | None
    ) -> DeadLetterAudit:
        source = letter.source_topic
        return DeadLetterAudit(
            action_id=action_id,
            action=action,
            dead_letter=letter.ref,
            consumer=_bounded(letter.consumer, 200),
            source_topic=source if _TOPIC_NAME.match(source) else "",
            replayed_to=to,
            by=by,
            at=at,
        )

    async def _write_audit(self, producer: AIOKafkaProducer, entries: Sequence[DeadLetterAudit]) -> None:
        topic = self.audit_topic
        sent = [await producer.send(topic, entry.model_dump_json().encode(), key=entry.key()) for entry in entries]
        await asyncio.gather(*sent)

    @asynccontextmanager
    async def _producer(self) -> AsyncIterator[AIOKafkaProducer]:
        producer = AIOKafkaProducer(**self._options, acks="all", enable_idempotence=True, client_id="hlm360-console")
        await producer.start()
        try:
            yield producer
        finally:
            await producer.stop()

    async def replay(
        self, letters: Sequence[DeadLetter], *, by: str, advance: Advance | None = None
    ) -> list[DeadLetterAudit]:
        """Send each dead letter back to its source topic (in dead-letter order), then audit it; the
        audit entries. Letters that cannot be replayed (DeadLetter.replay_problem) must be left out."""
        action_id, done = uuid4(), []
        async with self._producer() as producer:
            for start in range(0, len(letters), self._batch_size):
                batch = letters[start : start + self._batch_size]
                at = datetime.now(UTC)
                sent = []
                for letter in batch:
                    headers = replay_headers(letter, replay_id=action_id, by=by, at=at)
                    sent.append(await producer.send(letter.source_topic, letter.value, key=letter.key, headers=headers))
                results = await asyncio.gather(*sent, return_exceptions=True)
                entries = []
                failure: BaseException | None = None
                for letter, result in zip(batch, results, strict=True):
                    if isinstance(result, BaseException):
                        failure = failure or result
                        continue
                    to = DeadLetterRef(topic=result.topic, partition=result.partition, offset=result.offset)
                    entries.append(self._entry(letter, action="replayed", action_id=action_id, by=by, at=at, to=to))
                await self._write_audit(producer, entries)
                done += entries
                if advance is not None:
                    advance(len(entries))
                if failure is not None:
                    raise ActionFailed(done, failure) from failure
        return done

    async def discard(
        self, letters: Sequence[DeadLetter], *, by: str, advance: Advance | None = None
    ) -> list[DeadLetterAudit]:
        """Record that these dead letters will not be replayed (they stay on the topic until it expires them)."""
        action_id, done = uuid4(), []
        async with self._producer() as producer:
            for start in range(0, len(letters), self._batch_size):
                at = datetime.now(UTC)
                entries = [
                    self._entry(letter, action="discarded", action_id=action_id, by=by, at=at, to=None)
                    for letter in letters[start : start + self._batch_size]
                ]
                await self._write_audit(producer, entries)
                done += entries
                if advance is not None:
                    advance(len(entries))
        return done
