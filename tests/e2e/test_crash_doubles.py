"""A crash doubles nothing consumers can see: while invitations sends a 50-person cohort's
invitations, its process is killed with SIGKILL several times and started again. No invitation is
lost, each rater's InvitationSent has one event id (a resent email republishes the id it had), and
at most one email per kill goes out twice (the one in flight, with its one Message-ID)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import signal
import subprocess
import time
from collections import defaultdict
from functools import partial
from pathlib import Path
from uuid import UUID, uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.demo.journey import build_request
from shared.contracts.events import CycleRequested, InvitationSent
from shared.contracts.topics import topic_for
from tests.config import REPO, StackSettings, kafka_options
from tests.e2e.conftest import Databases
from tests.support import eventually

COHORT = 50
KILLS = 3
SERVICES = REPO / "deploy" / "local" / "services.sh"


class TopicSince:
    """Every record a topic receives after `start()`: its end offsets then are where reading begins."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._bootstrap = bootstrap
        self._consumer = AIOKafkaConsumer(**kafka_options(bootstrap), enable_auto_commit=False)
        self._topic = topic
        self._next: dict[TopicPartition, int] = {}
        self.values: list[bytes] = []

    async def start(self) -> None:
        admin = AIOKafkaAdminClient(**kafka_options(self._bootstrap))
        await admin.start()
        try:
            [described] = await admin.describe_topics([self._topic])
        finally:
            await admin.close()
        partitions = [TopicPartition(self._topic, p["partition"]) for p in described["partitions"]]
        assert partitions, f"topic {self._topic} does not exist"
        await self._consumer.start()
        self._consumer.assign(partitions)
        self._next = dict(await self._consumer.end_offsets(partitions))
        for partition, offset in self._next.items():
            self._consumer.seek(partition, offset)

    async def stop(self) -> None:
        await self._consumer.stop()

    async def read_to_end(self) -> list[bytes]:
        """Read up to the topic's end offsets as they are now."""
        ends = await self._consumer.end_offsets(list(self._next))
        while any(self._next[p] < ends[p] for p in self._next):
            for partition, records in (await self._consumer.getmany(timeout_ms=500)).items():
                for record in records:
                    if record.offset >= self._next[partition] and record.value is not None:
                        self.values.append(record.value)
                        self._next[partition] = record.offset + 1
        return self.values


def invitations_pid(settings: StackSettings) -> int:
    return int((settings.hlm360_local_dir / "run" / "invitations.pid").read_text().strip())


def kill(pid: int) -> None:
    """SIGKILL: no shutdown, no rollback sent, whatever the process was doing."""
    try:
        os.killpg(pid, signal.SIGKILL)  # services.sh starts each service as its own process group
    except ProcessLookupError:
        return
    except PermissionError:
        os.kill(pid, signal.SIGKILL)


def dead(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return True
    return state in ("Z", "X")


def start_invitations() -> None:
    started = subprocess.run(
        ["bash", str(SERVICES), "start", "invitations"], capture_output=True, text=True, timeout=90
    )
    assert started.returncode == 0, f"services.sh start invitations failed:\n{started.stderr[-3000:]}"


def messages_in_mail(mail_dir: Path, addresses: set[str], *, since: float) -> dict[str, list[str]]:
    """The Message-IDs of the emails the sink stored for each of `addresses`."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in mail_dir.glob("*.eml"):
        if path.stat().st_mtime < since:
            continue
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        to = str(message.get("To", "")).strip().lower()
        if to in addresses:
            found[to].append(str(message.get("Message-ID", "")))
    return found


async def test_killing_invitations_while_it_sends_loses_nothing_and_doubles_no_event(
    settings: StackSettings, dbs: Databases
) -> None:
    started, run = time.time() - 1, uuid4().hex[:6]
    cohort: list[CycleRequested] = [
        build_request(cycle_id=uuid4(), facilitator_id=None, tag=f"crash{run}{i:02d}") for i in range(COHORT)
    ]
    cycle_ids = [c.cycle_id for c in cohort]
    addresses = {str(r.email).lower() for c in cohort for r in c.raters} | {
        str(c.participant.email).lower() for c in cohort
    }
    invitations = TopicSince(settings.hlm360_kafka_bootstrap_servers, topic_for(InvitationSent))
    await invitations.start()

    async def sent() -> int:
        [row] = await dbs.fetch(
            "invitations",
            "SELECT count(*) AS n FROM invitations.outgoing_email WHERE kind = 'invitation' AND cycle_id = ANY($1) "
            "AND sent_at IS NOT NULL",
            cycle_ids,
        )
        return int(row["n"])

    async def more_than(count: int) -> bool:
        return await sent() > count

    kills = 0
    try:
        # another NHS system asks for a cohort's 360s on Kafka (its requests need no confirmation)
        producer = AIOKafkaProducer(**kafka_options(settings.hlm360_kafka_bootstrap_servers, principal="external"))
        await producer.start()
        try:
            for request in cohort:
                await producer.send(topic_for(request), request.model_dump_json().encode(), key=request.kafka_key())
            await producer.flush()
        finally:
            await producer.stop()

        # kill as soon as sending has moved on since the last start, while invitations are still waiting
        for _ in range(KILLS):
            before = await sent()
            if before >= len(addresses):
                break
            await eventually(partial(more_than, before), timeout=30, interval=0.05, what="sending to resume")
            pid = invitations_pid(settings)
            kill(pid)
            kills += 1
            await eventually(partial(dead, pid), timeout=10, interval=0.05, what="invitations to die")
            await asyncio.to_thread(start_invitations)

        await eventually(lambda: more_than(len(addresses) - 1), timeout=90, interval=0.5, what="every invitation sent")
        await eventually(lambda: _all_published(dbs), timeout=30, interval=0.2, what="the outbox published")
        events = [InvitationSent.model_validate_json(v) for v in await invitations.read_to_end()]
    finally:
        await invitations.stop()
        await asyncio.to_thread(start_invitations)  # leave it running whatever happened

    ours = set(cycle_ids)
    announced = [e for e in events if e.cycle_id in ours]
    ids_per_rater: dict[tuple[UUID, UUID], set[UUID]] = defaultdict(set)
    for event in announced:
        ids_per_rater[(event.cycle_id, event.rater_id)].add(event.event_id)
    delivered = messages_in_mail(settings.hlm360_mail_dir, addresses, since=started)
    lost = addresses - set(delivered)
    doubled_events = {pair: ids for pair, ids in ids_per_rater.items() if len(ids) > 1}
    doubled_emails = sum(len(ids) - 1 for ids in delivered.values())
    repeats = len(announced) - len(ids_per_rater)
    print(
        f"\ncrash test: {kills} kills, {sum(map(len, delivered.values()))} emails to {len(addresses)} people, "
        f"{doubled_emails} sent twice, {len(announced)} InvitationSent records ({repeats} repeats of an id), "
        f"{len(doubled_events)} raters announced under two ids"
    )

    assert kills == KILLS, "invitations must have been killed while sending"
    assert not lost, f"{len(lost)} people got no invitation"
    assert len(ids_per_rater) == len(addresses), "every rater was announced"
    assert not doubled_events, f"{len(doubled_events)} raters were announced under two event ids"
    assert doubled_emails <= kills
    assert all(len(set(ids)) == 1 for ids in delivered.values()), "an email sent again keeps its Message-ID"


async def _all_published(dbs: Databases) -> bool:
    [row] = await dbs.fetch(
        "invitations",
        "SELECT count(*) AS n FROM public.outbox WHERE published_at IS NULL AND event_type = $1",
        "InvitationSent",
    )
    return int(row["n"]) == 0
