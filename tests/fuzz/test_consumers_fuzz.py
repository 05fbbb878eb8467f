"""Issue 10: no message stops a consumer. Every (service, event type) subscription gets arbitrary
bytes, arbitrary JSON and schema-valid-then-mutated events on one partition, then a valid event
on the same partition (same key). Each fuzzed message must be applied or dead-lettered (unchanged,
with a reason, by that consumer), never retried for ever; an invalid one is always dead-lettered; a
contract-valid one never crashes a consumer; and the valid event after them is handled."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord

from shared.contracts.events import Event
from shared.contracts.topics import DEAD_LETTER_TOPIC, topic_for
from tests.config import StackSettings, kafka_options
from tests.fuzz.conftest import FuzzReport
from tests.fuzz.sentinels import SENTINELS
from tests.fuzz.strategies import Subscription, fixed_examples, registered_subscriptions
from tests.integration.conftest import ServiceUnderTest
from tests.support import TopicReader, committed_offsets, eventually, header

SUBSCRIPTIONS = registered_subscriptions()
CONSUMED = sorted({s.event_type for s in SUBSCRIPTIONS}, key=lambda t: t.__name__)
COUNTED = ("hlm360_events_applied", "hlm360_events_duplicate", "hlm360_dead_letters")


@dataclass(frozen=True)
class Sent:
    strategy: str
    offset: int
    body: bytes
    valid: bool  # the contract (pydantic) accepts it: it may be applied instead of dead-lettered


def contract_accepts(event_type: type[Event], body: bytes) -> bool:
    try:
        event_type.model_validate_json(body)
    except Exception:  # ValidationError, and anything a hostile body makes the parser raise
        return False
    return True


def handled_total(service: ServiceUnderTest, consumer: str) -> float:
    """Messages `consumer` has finished with: applied, dropped as duplicates, or dead-lettered."""
    total = 0.0
    for metric in service.runtime.metrics.registry.collect():
        if metric.name in COUNTED:
            total += sum(
                s.value for s in metric.samples if s.name.endswith("_total") and s.labels.get("consumer") == consumer
            )
    return total


def group_of(subscription: Subscription, fleet: dict[str, ServiceUnderTest]) -> str:
    prefix = fleet[subscription.service].runtime.settings.consumer_group_prefix
    assert prefix, "running_service gives every in-process service its own consumer groups"
    return subscription.group(prefix)


async def test_every_registered_consumer_is_fuzzed(fleet: dict[str, ServiceUnderTest]) -> None:
    """The subscriptions fuzzed here are exactly those the running brokers have, and each has a sentinel."""
    subscribers: list[Any] = [sub for service in fleet.values() for sub in service.runtime.broker.subscribers]
    running = {(sub.group_id, topic) for sub in subscribers for topic in sub.topic_names}
    fuzzed = {(group_of(s, fleet), topic_for(s.event_type)) for s in SUBSCRIPTIONS}
    assert running == fuzzed
    assert {t for t in CONSUMED if t not in SENTINELS} == set()
    print(
        f"\n[fuzz] {len(SUBSCRIPTIONS)} subscriptions over {len(CONSUMED)} topics: "
        + ", ".join(sorted(f"{s.service}.{s.name}:{s.event_type.__name__}" for s in SUBSCRIPTIONS))
    )


@pytest.mark.parametrize("event_type", CONSUMED, ids=lambda t: t.__name__)
async def test_fuzzed_messages_are_applied_or_dead_lettered_and_the_partition_moves_on(
    event_type: type[Event], settings: StackSettings, fleet: dict[str, ServiceUnderTest], examples: FuzzReport
) -> None:
    started = time.monotonic()
    bootstrap = settings.hlm360_kafka_bootstrap_servers
    topic = topic_for(event_type)
    consumers = {group_of(s, fleet): fleet[s.service] for s in SUBSCRIPTIONS if s.event_type is event_type}
    before = {group: handled_total(service, group) for group, service in consumers.items()}
    bodies = [(name, body) for name, drawn in examples.drawn[event_type.__name__].items() for body in drawn]
    key = uuid4()
    sentinel = SENTINELS[event_type](key)
    bodies += list(fixed_examples(SENTINELS[event_type](key)).items())
    assert sentinel.kafka_key() == str(key).encode(), "the valid event must follow on the same partition"

    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", max_request_size=8 * 1024 * 1024)
    await producer.start()
    async with TopicReader(bootstrap, DEAD_LETTER_TOPIC) as dead_letters:
        try:
            await dead_letters.poll()
            sending = [await producer.send(topic, body, key=sentinel.kafka_key()) for _, body in bodies]
            sent = [
                Sent(name, meta.offset, body, contract_accepts(event_type, body))
                for (name, body), meta in zip(bodies, await asyncio.gather(*sending), strict=True)
            ]
            last = await producer.send_and_wait(topic, sentinel.model_dump_json().encode(), key=sentinel.kafka_key())
        finally:
            await producer.stop()
        partition = last.partition

        async def all_handled() -> bool:
            for group in consumers:
                committed = (await committed_offsets(bootstrap, group)).get((topic, partition), -1)
                if committed <= last.offset:
                    return False
            return True

        await eventually(
            all_handled,
            timeout=240 + 0.2 * len(sent),
            interval=0.5,
            what=f"every consumer of {topic} past the valid event at offset {last.offset}",
        )
        found = await _dead_letters_of(dead_letters, topic, partition, {s.offset for s in sent} | {last.offset})

    failures: list[str] = []
    for group, service in consumers.items():
        failures += _problems(group, sent, found, last.offset)
        counted = handled_total(service, group) - before[group]
        if counted < len(sent) + 1:
            failures.append(f"{group}: metrics count {counted:.0f} messages finished, {len(sent) + 1} were sent")
    counts = {name: sum(1 for s in sent if s.strategy == name) for name in {s.strategy for s in sent}}
    examples.per_event[event_type.__name__] = counts
    examples.sent[event_type.__name__] = len(sent) * len(consumers)
    dead = sum(1 for (group, _) in found if group in consumers)
    print(
        f"\n[fuzz] {event_type.__name__}: {counts} to {sorted(consumers)}; {dead} dead letters, "
        f"{sum(s.valid for s in sent)} contract-valid; {time.monotonic() - started:.1f}s"
    )
    for failure in failures:
        print(f"[fuzz]   FAIL {failure}")
    assert not failures, "\n".join(failures[:40])


async def _dead_letters_of(
    reader: TopicReader, topic: str, partition: int, offsets: set[int]
) -> dict[tuple[str, int], ConsumerRecord[bytes, bytes]]:
    """Dead letters of our messages by (consumer, source offset); waits until none arrive for 2 s
    (each consumer dead-letters before it commits, so they are all on the topic already)."""
    quiet_since, count = time.monotonic(), -1
    found: dict[tuple[str, int], ConsumerRecord[bytes, bytes]] = {}
    while time.monotonic() - quiet_since < 2:
        for record in await reader.poll():
            offset = int(header(record, "x-dead-letter-source-offset") or -1)
            if (
                header(record, "x-dead-letter-source-topic") == topic
                and header(record, "x-dead-letter-source-partition") == str(partition)
                and offset in offsets
            ):
                found[(header(record, "x-dead-letter-consumer") or "", offset)] = record
        if len(found) != count:
            quiet_since, count = time.monotonic(), len(found)
    return found


def _problems(
    group: str, sent: list[Sent], found: dict[tuple[str, int], ConsumerRecord[bytes, bytes]], sentinel: int
) -> list[str]:
    problems = []
    for message in sent:
        record = found.get((group, message.offset))
        label = f"{group} {message.strategy} offset {message.offset} {message.body[:80]!r}"
        if record is None:
            if not message.valid:
                problems.append(f"{label}: invalid, but neither dead-lettered nor refused")
            continue
        reason = header(record, "x-dead-letter-reason") or ""
        if not reason.strip():
            problems.append(f"{label}: dead-lettered without a reason")
        if reason.startswith("processing failed"):
            problems.append(f"{label}: crashed the consumer ({reason[:200]})")
        if header(record, "x-dead-letter-body") is None and record.value != message.body:
            problems.append(f"{label}: the dead letter's body is not the message unchanged")
    record = found.get((group, sentinel))
    if record is not None and not (header(record, "x-dead-letter-reason") or "").startswith("rejected"):
        problems.append(
            f"{group}: the valid event after the fuzz was dead-lettered: {header(record, 'x-dead-letter-reason')!r}"
        )
    return problems


def test_fuzz_summary(examples: FuzzReport) -> None:
    """Counts for the record (run with -s); fails if a strategy sent nothing."""
    per_strategy: dict[str, int] = {}
    for counts in examples.per_event.values():
        for name, count in counts.items():
            per_strategy[name] = per_strategy.get(name, 0) + count
    print(
        f"\n[fuzz] examples sent per strategy over {len(examples.per_event)} topics: {per_strategy}; "
        f"deliveries to consumers {sum(examples.sent.values())}; drawing took {examples.draw_seconds:.1f}s"
    )
    assert len(examples.per_event) == len(CONSUMED), "run the whole module: some topics were not fuzzed"
    assert all(per_strategy.get(name, 0) >= len(CONSUMED) for name in ("bytes", "json", "mutated"))
