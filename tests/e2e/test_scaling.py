"""N instances behind the front door, one of each killed mid-load (issue 14): three ratings and two
reports instances; a cohort of 12 cycles of ten raters answers its questionnaires over HTTPS through
the front door; after a third of them are sent, one ratings instance (one seen holding the outbox
relay) and one reports instance are killed with SIGKILL and stay down.

Asserted: no questionnaire is lost and none is doubled (each rater's response once in ratings, one
RatingSubmitted and one ResponseReceived per rater in ratings' outbox, all published; a rater whose
request died with its instance sends it again, as a person presses the button again, and a
submission already stored answers "already sent"); reports stored each response once and compiled
each cycle's report once; invitations marked every rater as having responded. On the topic a
RatingSubmitted event may appear more than once with the same event id: the relay delivers at
least once, and a relay killed after Kafka took its batch but before it marked the batch
published leaves that batch to be sent again by the relay that takes over. So the topic is held to
one event id per rater and at most one relay batch of repeats, and the exactly-once effect is
asserted where it is made, in reports' and invitations' databases (their inboxes drop repeats).

One outbox relay at a time: while the load runs, pg_locks of ratings' and reports' databases is
sampled for the relay's advisory lock; never more than one backend holds it (which instance held it
is read from the holder's client port), it may move between instances, and after the kill the
survivors' relays drain the outbox while the killed instance is still down.

Every partition consumed: the cohort's cycle ids are chosen so its events fall on all 12
partitions; afterwards reports' RatingSubmitted group and invitations' ResponseReceived group have
committed the end offset of every partition (lag 0 on all 12).

The stack is scaled back to one instance of each in any case, for the rest of the tier."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.bench.cohort import Questionnaire, prepare_cohort
from deploy.bench.load import LoadProgress, Raters
from deploy.bench.stack import BenchSettings, front_door, instance_pids, kill, scale
from shared.contracts.events import RatingSubmitted, ResponseReceived
from shared.contracts.topics import PARTITIONS, topic_for
from shared.messaging import OUTBOX_LOCK_KEY
from tests.config import StackSettings, kafka_options
from tests.e2e.conftest import Databases
from tests.e2e.test_crash_doubles import TopicSince
from tests.support import committed_offsets, eventually

CYCLES = 12  # one per partition: 120 questionnaires
CONCURRENCY = 24
RELAY_BATCH = 500  # shared.messaging.OutboxRelay's batch_size: what one killed relay can leave to send again
SAMPLE_SECONDS = 0.02
GROUPS = {  # the consumer group that must have read every partition of each topic
    topic_for(RatingSubmitted): "reports.record-rating",
    topic_for(ResponseReceived): "invitations.response-received",
}
TOPIC_EVENTS: dict[str, type[RatingSubmitted] | type[ResponseReceived]] = {
    topic_for(RatingSubmitted): RatingSubmitted,
    topic_for(ResponseReceived): ResponseReceived,
}
RELAYS = ("ratings", "reports")  # the services scaled out, whose outbox relays are watched
# The first instances keep the ports other tests reach directly: the instances killed are others.
KILLABLE = ("ratings.2", "ratings.3")
HOLDERS = f"""
SELECT l.pid, a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid = {OUTBOX_LOCK_KEY >> 32} AND l.objid = {OUTBOX_LOCK_KEY & 0xFFFFFFFF}
"""


def _tcp_inodes(port: int) -> set[int]:
    """The inodes of this machine's TCP sockets whose local port is `port`."""
    inodes: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(int(fields[9]))
    return inodes


def _socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    with suppress(FileNotFoundError, ProcessLookupError, PermissionError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
    return inodes


@dataclass
class RelayWatch:
    """Samples which instance of `service` holds its outbox relay's advisory lock."""

    service: str
    url: str
    local_dir: Path
    samples: list[tuple[float, list[str]]] = field(default_factory=list)
    _owners: dict[tuple[int, int], str] = field(default_factory=dict)

    def owner(self, backend: int, port: int | None) -> str:
        """The instance whose connection (client port) the backend serves: its socket is in that process."""
        if port is None or port < 0:
            return "unknown"
        if (backend, port) not in self._owners:
            inodes = _tcp_inodes(port)
            owners = [
                i for i, pid in instance_pids(self.local_dir, self.service).items() if inodes & _socket_inodes(pid)
            ]
            self._owners[(backend, port)] = owners[0] if owners else "unknown"
        return self._owners[(backend, port)]

    async def run(self) -> None:
        connection = await asyncpg.connect(self.url)
        try:
            while True:
                rows = await connection.fetch(HOLDERS)
                self.samples.append((time.monotonic(), [self.owner(r["pid"], r["client_port"]) for r in rows]))
                await asyncio.sleep(SAMPLE_SECONDS)
        finally:
            await connection.close()

    def last_holder(self) -> str | None:
        """The instance seen last holding the lock (None if none was seen or told apart)."""
        known = instance_pids(self.local_dir, self.service)
        return next((h[0] for _, h in reversed(self.samples) if h and h[0] in known), None)

    def holders(self, *, after: float = 0.0) -> Counter[str]:
        return Counter(h for at, holders in self.samples if at > after for h in holders)


@dataclass
class Kills:
    at: float = 0.0
    sent_before: int = 0
    instances: list[str] = field(default_factory=list)


async def end_offsets(settings: StackSettings, topic: str) -> dict[int, int]:
    """The topic's end offset on each of its partitions."""
    options = kafka_options(settings.hlm360_kafka_bootstrap_servers)
    admin = AIOKafkaAdminClient(**options)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
    consumer = AIOKafkaConsumer(**options, enable_auto_commit=False)
    await consumer.start()
    try:
        return {tp.partition: offset for tp, offset in (await consumer.end_offsets(partitions)).items()}
    finally:
        await consumer.stop()


async def _load_with_kills(
    bench: BenchSettings, cohort: Sequence[Questionnaire], watches: dict[str, RelayWatch], kills: Kills
) -> LoadProgress:
    """Answer the cohort through the front door; after a third, kill a ratings instance as soon as it
    holds the relay (else ratings.2) and reports.2, mid-load."""
    progress = LoadProgress(total=len(cohort))
    async with front_door(bench, connections=CONCURRENCY) as http:
        load = asyncio.create_task(Raters(http, concurrency=CONCURRENCY).answer_all(cohort, progress))

        async def a_third_sent() -> bool:
            if load.done():
                load.result()  # surface a failed load at once
            return progress.sent >= len(cohort) // 3

        await eventually(a_third_sent, timeout=120, interval=0.05, what="a third of the questionnaires sent")
        with suppress(AssertionError):  # the relay may stay with the first instance: then kill ratings.2
            await eventually(lambda: watches["ratings"].last_holder() in KILLABLE, timeout=10, interval=0.02)
        holder = watches["ratings"].last_holder()
        kills.instances = [holder if holder in KILLABLE else "ratings.2", "reports.2"]
        kills.sent_before = progress.sent
        for instance in kills.instances:
            await asyncio.to_thread(kill, instance)  # returns once its process is gone
            kills.at = kills.at or time.monotonic()
        await load
    return progress


async def _count(dbs: Databases, service: str, sql: str, *args: object) -> int:
    return int((await dbs.fetch(service, sql, *args))[0][0])


async def _wait_until_settled(dbs: Databases, cycle_ids: list[UUID], raters: int, *, since: datetime) -> None:
    """Reports has every response and every report, invitations every response, and what both
    outboxes took in since the test began is published (by the survivors: the killed stay down)."""
    checks = {
        "reports to store every response": (
            "reports",
            "SELECT count(*) FROM reports.response WHERE cycle_id = ANY($1)",
            raters,
        ),
        "reports to compile every report": (
            "reports",
            "SELECT count(*) FROM reports.report WHERE cycle_id = ANY($1)",
            len(cycle_ids),
        ),
        "invitations to see every response": (
            "invitations",
            "SELECT count(*) FROM invitations.rater WHERE cycle_id = ANY($1) AND status = 'submitted'",
            raters,
        ),
    }
    for what, (service, sql, expected) in checks.items():

        async def reached(service: str = service, sql: str = sql, expected: int = expected) -> bool:
            return await _count(dbs, service, sql, cycle_ids) >= expected

        await eventually(reached, timeout=120, interval=0.5, what=what)
    for service in ("ratings", "reports"):

        async def drained(service: str = service) -> bool:
            sql = "SELECT count(*) FROM public.outbox WHERE published_at IS NULL AND created_at >= $1"
            return await _count(dbs, service, sql, since) == 0

        await eventually(drained, timeout=60, interval=0.2, what=f"{service}' outbox published")


async def _assert_each_response_once(dbs: Databases, cycle_ids: list[UUID], raters: int) -> None:
    """Nothing lost, nothing doubled: in ratings (stored, emitted), reports and invitations."""
    responses = await dbs.fetch(
        "ratings", "SELECT rater_id, count(*) AS n FROM ratings.response WHERE cycle_id = ANY($1) GROUP BY 1", cycle_ids
    )
    assert len(responses) == raters and {r["n"] for r in responses} == {1}, "each rater's response stored once"
    keys = [str(c) for c in cycle_ids]
    emitted = await dbs.fetch(
        "ratings",
        "SELECT event_type, count(*) AS n, count(DISTINCT payload::jsonb->>'rater_id') AS raters, "
        "count(published_at) AS published FROM public.outbox WHERE key = ANY($1) "
        "AND event_type IN ('RatingSubmitted', 'ResponseReceived') GROUP BY 1",
        keys,
    )
    assert {r["event_type"]: (r["n"], r["raters"], r["published"]) for r in emitted} == {
        "RatingSubmitted": (raters, raters, raters),
        "ResponseReceived": (raters, raters, raters),
    }, "one RatingSubmitted and one ResponseReceived per rater, each published"
    stored = await _count(dbs, "reports", "SELECT count(*) FROM reports.response WHERE cycle_id = ANY($1)", cycle_ids)
    reports = await dbs.fetch(
        "reports", "SELECT cycle_id, count(*) AS n FROM reports.report WHERE cycle_id = ANY($1) GROUP BY 1", cycle_ids
    )
    assert stored == raters, "reports stored each response once"
    assert len(reports) == len(cycle_ids) and {r["n"] for r in reports} == {1}, "one report per cycle"
    seen = await _count(
        dbs,
        "invitations",
        "SELECT count(*) FROM invitations.rater WHERE cycle_id = ANY($1) AND status = 'submitted'",
        cycle_ids,
    )
    assert seen == raters, "invitations saw every response"


def _assert_topic(values: list[bytes], event: type[RatingSubmitted] | type[ResponseReceived], cycles: set[UUID]) -> int:
    """One event id per rater on the topic; repeats of an id (at least once) within one relay batch. Returns repeats."""
    records = [e for e in (event.model_validate_json(v) for v in values) if e.cycle_id in cycles]
    ids: dict[UUID, set[UUID]] = defaultdict(set)
    for record in records:
        ids[record.rater_id].add(record.event_id)
    assert len(ids) == len(cycles) * 10, f"a {event.__name__} for every rater"
    assert all(len(each) == 1 for each in ids.values()), f"a rater's {event.__name__} under two event ids"
    repeats = len(records) - len(ids)
    assert repeats <= RELAY_BATCH, f"{repeats} repeated {event.__name__} records: more than one relay batch"
    return repeats


def _assert_one_relay_at_a_time(watches: dict[str, RelayWatch], kills: Kills) -> None:
    for service, watch in watches.items():
        assert watch.samples, f"{service}' relay lock was sampled"
        most = max(len(holders) for _, holders in watch.samples)
        assert most <= 1, f"{most} backends held {service}' outbox relay lock at once"
    killed = kills.instances[0]
    after = watches["ratings"].holders(after=kills.at)
    assert watches["ratings"].holders(), "ratings' relay was seen at work"
    assert after, "a surviving ratings instance took the relay over after the kill"
    assert killed not in after, "the killed instance held no lock after it died"


async def _assert_every_partition_consumed(settings: StackSettings, before: dict[str, dict[int, int]]) -> None:
    for topic, group in GROUPS.items():
        ends = await end_offsets(settings, topic)
        assert len(ends) == PARTITIONS
        assert all(ends[p] > before[topic][p] for p in ends), f"the load put records on every partition of {topic}"

        async def consumed(topic: str = topic, group: str = group, ends: dict[int, int] = ends) -> bool:
            committed = await committed_offsets(settings.hlm360_kafka_bootstrap_servers, group)
            return all(committed.get((topic, p), -1) >= end for p, end in ends.items())

        await eventually(consumed, timeout=90, interval=0.5, what=f"{group} to commit every partition of {topic}")


async def _scale_back(*, failing: bool) -> None:
    """One instance of each again, for the rest of the tier; a failure to do so does not hide the test's own."""
    try:
        await asyncio.to_thread(scale, ratings=1, reports=1)
    except Exception:
        if not failing:
            raise


async def test_three_ratings_and_two_reports_lose_and_double_nothing_when_one_of_each_dies(
    settings: StackSettings, dbs: Databases
) -> None:
    bench = BenchSettings()  # type: ignore[call-arg]
    started, since = time.monotonic(), datetime.now(UTC)
    topics = {t: TopicSince(settings.hlm360_kafka_bootstrap_servers, t) for t in GROUPS}
    urls = {s: getattr(settings, f"{s}_database_url").get_secret_value().replace("+asyncpg", "") for s in RELAYS}
    watches = {s: RelayWatch(s, urls[s], settings.hlm360_local_dir) for s in RELAYS}
    sampling: list[asyncio.Task[None]] = []
    kills = Kills()
    try:
        await asyncio.to_thread(scale, ratings=3, reports=2)
        cohort = await prepare_cohort(bench, cycles=CYCLES, tag=f"scale{uuid4().hex[:6]}")
        cycle_ids = sorted({q.cycle_id for q in cohort})
        before = {t: await end_offsets(settings, t) for t in GROUPS}
        for reader in topics.values():
            await reader.start()
        sampling = [asyncio.create_task(w.run()) for w in watches.values()]
        loaded = time.monotonic()
        progress = await _load_with_kills(bench, cohort, watches, kills)
        answered = time.monotonic()
        await _wait_until_settled(dbs, cycle_ids, len(cohort), since=since)
        settled = time.monotonic()
        values = {t: await reader.read_to_end() for t, reader in topics.items()}
    finally:
        for task in sampling:
            task.cancel()
        for reader in topics.values():
            with suppress(Exception):
                await reader.stop()
        await _scale_back(failing=sys.exc_info()[1] is not None)
    repeats = {t: _assert_topic(values[t], e, set(cycle_ids)) for t, e in TOPIC_EVENTS.items()}
    print(
        f"\nscaling test: {len(cohort)} questionnaires, {progress.requests} requests "
        f"(sent again: {dict(progress.resent)}, {progress.answered_already} answered 'already sent'); killed "
        f"{' and '.join(kills.instances)} after {kills.sent_before} sent; load {answered - loaded:.1f} s, "
        f"settled {settled - answered:.1f} s, whole test {time.monotonic() - started:.1f} s; "
        f"relay holders ratings {dict(watches['ratings'].holders())} "
        f"(after the kill {dict(watches['ratings'].holders(after=kills.at))}), "
        f"reports {dict(watches['reports'].holders())}; repeated records on the topics {repeats}"
    )
    assert 0 < kills.sent_before < len(cohort), "the instances were killed while the load ran"
    assert progress.sent == len(cohort)
    await _assert_each_response_once(dbs, cycle_ids, len(cohort))
    _assert_one_relay_at_a_time(watches, kills)
    await _assert_every_partition_consumed(settings, before)
