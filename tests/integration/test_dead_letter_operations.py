"""Operators inspect, replay and discard dead letters (console.deadletters, `hlm360 dead-letters`), on
the real Kafka with the operators' login, in this run's topic namespace. A 360 asked for with a
programme credit account that does not exist yet is dead-lettered by the invitations service; once
the account is topped up, a replay opens it, once; a second replay changes nothing; a discard hides a
letter; every decision is on the audit topic."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from console.deadletters import DeadLetters
from console.domain import DeadLetter, Filter, decisions, select
from invitations.tables import CreditAccount, Cycle
from invitations.usecases.funding import top_up_credits
from shared.contracts import deadletters as dl
from shared.contracts.deadletters import DeadLetterRef, ReplayMarker
from shared.contracts.events import CycleRequested, Funding
from shared.contracts.topics import DEAD_LETTER_AUDIT_TOPIC, DEAD_LETTER_TOPIC, topic_for
from shared.contracts.vocabulary import FundingMethod
from tests.config import StackSettings, kafka_options
from tests.integration.conftest import ServiceUnderTest, running_service
from tests.integration.test_invitations_support import fast, request
from tests.support import committed_offsets, eventually

REPO = Path(__file__).resolve().parents[2]
HLM360 = Path(sys.executable).parent / "hlm360"
ORIGINAL_HEADERS = [("event_type", b"CycleRequested"), ("x-test-origin", b"integration")]


def unfunded(reference: str) -> CycleRequested:
    return request(funding=Funding(method=FundingMethod.PROGRAMME_CREDIT, reference=reference))


async def publish(settings: StackSettings, event: CycleRequested) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(**kafka_options(settings.hlm360_kafka_bootstrap_servers), acks="all")
    await producer.start()
    try:
        body = event.model_dump_json().encode()
        await producer.send_and_wait(topic_for(event), body, key=event.kafka_key(), headers=ORIGINAL_HEADERS)
    finally:
        await producer.stop()


async def record_at(settings: StackSettings, ref: DeadLetterRef) -> tuple[bytes | None, bytes, dict[str, bytes]]:
    consumer = AIOKafkaConsumer(**kafka_options(settings.hlm360_kafka_bootstrap_servers), group_id=None)
    await consumer.start()
    try:
        tp = TopicPartition(ref.topic, ref.partition)
        consumer.assign([tp])
        consumer.seek(tp, ref.offset)
        record = await consumer.getone()
        return record.key, record.value or b"", dict(record.headers or ())
    finally:
        await consumer.stop()


async def opened(service: ServiceUnderTest, cycle_id: uuid.UUID) -> bool:
    async with service.runtime.uow() as uow:
        return await uow.session.get(Cycle, cycle_id) is not None


async def balance(service: ServiceUnderTest, reference: str) -> int | None:
    async with service.runtime.uow() as uow:
        account = await uow.session.get(CreditAccount, reference)
        return None if account is None else account.balance


def hlm360(*args: str) -> subprocess.CompletedProcess[str]:
    """The command line, as an operator runs it (this process's environment: the operators' login and
    this run's topic namespace)."""
    env = {**os.environ, "COLUMNS": "250", "HLM360_OPERATOR": "itest-cli"}
    return subprocess.run([str(HLM360), *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=180)


async def test_a_fixed_dead_letter_is_replayed_once_and_every_decision_is_audited(settings: StackSettings) -> None:
    library = DeadLetters(kafka_options(settings.hlm360_kafka_bootstrap_servers), read_timeout_seconds=60)
    assert library.topic == DEAD_LETTER_TOPIC and library.audit_topic == DEAD_LETTER_AUDIT_TOPIC
    tag = uuid.uuid4().hex[:8].upper()
    fixed, never = f"ITEST-{tag}-A", f"ITEST-{tag}-B"
    first, second = unfunded(fixed), unfunded(never)
    async with running_service("invitations", settings, **fast()) as service:
        consumer = f"{service.runtime.settings.consumer_group_prefix}.open-cycle"
        for event in (first, second):
            await publish(settings, event)

        keys = {first.kafka_key(), second.kafka_key()}

        async def ours() -> list[DeadLetter] | None:
            # a fresh consumer group reads every request on the topic, other tests' too: ours by key
            # (and at-least-once: a rebalance may dead-letter one twice; the first of each counts)
            found: dict[bytes | None, DeadLetter] = {}
            for letter in await library.read():
                if letter.consumer == consumer and letter.key in keys:
                    found.setdefault(letter.key, letter)
            return list(found.values()) if len(found) == 2 else None

        letters = await eventually(ours, timeout=60, what="both requests dead-lettered")
        by_key = {letter.key: letter for letter in letters}
        dead, other = by_key[first.kafka_key()], by_key[second.kafka_key()]
        assert dead.kind == "rejected" and "no programme credit account" in dead.reason
        assert dead.source_topic == topic_for(CycleRequested) and dead.value == first.model_dump_json().encode()
        assert dict(dead.original_headers())["x-test-origin"] == b"integration", "the original's headers are kept"
        assert await library.read_one(dead.ref) == dead
        assert await library.read_one(DeadLetterRef(topic=DEAD_LETTER_TOPIC, partition=0, offset=10**9)) is None

        # Fix the condition: the programme team creates the account. Then replay the one dead letter.
        async with service.runtime.uow() as uow:
            await top_up_credits(uow, reference=fixed, programme="Integration", credits=2)
            await uow.commit()
        [entry] = await library.replay([dead], by="itest-operator")
        assert (entry.action, entry.dead_letter, entry.by, entry.consumer) == (
            "replayed",
            dead.ref,
            "itest-operator",
            consumer,
        )
        assert entry.replayed_to is not None and entry.replayed_to.topic == topic_for(CycleRequested)
        await eventually(lambda: opened(service, first.cycle_id), timeout=60, what="the replayed request opened")
        key, value, headers = await record_at(settings, entry.replayed_to)
        assert (key, value) == (first.kafka_key(), first.model_dump_json().encode())
        assert headers["event_type"] == b"CycleRequested" and headers["x-test-origin"] == b"integration"
        assert not [name for name in headers if name.startswith(dl.HEADER_PREFIX)]
        marker = ReplayMarker.model_validate_json(headers[dl.REPLAY])
        assert (marker.dead_letter, marker.by, marker.replay_id) == (dead.ref, "itest-operator", entry.action_id)

        # Replayed again: the inbox drops it (one credit taken, once).
        [again] = await library.replay([dead], by="itest-operator")
        assert again.replayed_to is not None
        position = (again.replayed_to.topic, again.replayed_to.partition)

        async def consumed() -> bool:
            offsets = await committed_offsets(settings.hlm360_kafka_bootstrap_servers, consumer)
            return offsets.get(position, -1) > again.replayed_to.offset  # type: ignore[union-attr]

        await eventually(consumed, timeout=60, what="the second replay consumed")
        assert await balance(service, fixed) == 1

        # The other cannot be fixed: discarded. Lists leave out both now.
        [dropped] = await library.discard([other], by="itest-operator")
        assert dropped.action == "discarded" and dropped.replayed_to is None and dropped.dead_letter == other.ref
        handled = decisions(await library.audit())
        assert handled[str(dead.ref)].action == "replayed" and handled[str(other.ref)].action == "discarded"
        mine = Filter(consumer=consumer)
        now = dead.dead_lettered_at
        assert select(letters, mine, handled=handled, include_handled=False, now=now) == []
        assert len(select(letters, mine, handled=handled, include_handled=True, now=now)) == 2
        assert await balance(service, never) is None and not await opened(service, second.cycle_id)


async def test_the_command_line_lists_shows_and_discards_with_confirmation(settings: StackSettings) -> None:
    library = DeadLetters(kafka_options(settings.hlm360_kafka_bootstrap_servers))
    tag = uuid.uuid4().hex[:8].upper()
    event = unfunded(f"ITEST-{tag}-CLI")
    async with running_service("invitations", settings, **fast()) as service:
        consumer = f"{service.runtime.settings.consumer_group_prefix}.open-cycle"
        await publish(settings, event)

        async def ours() -> DeadLetter | None:
            found = await library.read()
            return next((x for x in found if x.consumer == consumer and x.key == event.kafka_key()), None)

        dead = await eventually(ours, timeout=60, what="the request dead-lettered")
    listed = hlm360("dead-letters", "list", "--consumer", consumer, "--reason", "CREDIT ACCOUNT", "--newer-than", "1h")
    assert listed.returncode == 0, listed.stderr
    # (this service's consumer group also reads the other test's requests: ids, not counts, are checked)
    assert str(dead.ref) in listed.stdout and " dead letter(s)" in listed.stdout
    assert event.participant.email not in listed.stdout, "a list shows no payload"
    shown = hlm360("dead-letters", "show", str(dead.ref))
    assert shown.returncode == 0 and event.participant.email in shown.stdout and "x-dead-letter-reason" in shown.stdout
    assert hlm360("dead-letters", "show", f"{DEAD_LETTER_TOPIC}:0:999999999").returncode == 2
    assert hlm360("dead-letters", "replay").returncode == 2, "replay needs ids or a filter"

    unconfirmed = hlm360("dead-letters", "discard", str(dead.ref))
    assert unconfirmed.returncode == 1 and "discard 1 dead letter(s)?" in unconfirmed.stderr
    assert str(dead.ref) not in decisions(await library.audit())
    done = hlm360("dead-letters", "discard", str(dead.ref), "--yes")
    assert done.returncode == 0 and "1 dead letter(s) discarded by itest-cli" in done.stdout, done.stderr
    assert decisions(await library.audit())[str(dead.ref)].by == "itest-cli"
    hidden = hlm360("dead-letters", "list", "--consumer", consumer)
    assert str(dead.ref) not in hidden.stdout and "replayed or discarded not shown" in hidden.stdout
    everything = hlm360("dead-letters", "list", "--consumer", consumer, "--all")
    assert str(dead.ref) in everything.stdout and "discarded by itest-cli" in everything.stdout
    audit = hlm360("dead-letters", "audit")
    assert audit.returncode == 0 and str(dead.ref) in audit.stdout
