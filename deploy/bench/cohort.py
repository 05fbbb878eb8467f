"""A cohort of 360s to load the stack with: cycles requested on Kafka as another NHS system asks
for them, their keys spread over every partition, and each rater's personal link read from the
invitation email they were sent (as a rater follows it)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import time
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID, uuid4

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from deploy.bench.stack import BenchSettings, connect
from deploy.demo.journey import build_request
from shared.contracts.events import CycleRequested
from shared.contracts.topics import PARTITIONS, topic_for
from shared.links import token_sha256
from shared.messaging import client_options
from shared.settings import KafkaClientSettings

RATER_LINK = re.compile(r"https?://\S+?/r/([A-Za-z0-9_\-]+)")
RATERS_PER_CYCLE = 10  # deploy.demo.journey.build_request: nine nominated raters and the participant


@dataclass(frozen=True)
class Questionnaire:
    """One rater's questionnaire: the cycle it belongs to and the token of their personal link."""

    cycle_id: UUID
    token: str


def partition_of(cycle_id: UUID) -> int:
    """The partition of the cycle's events (keyed by cycle id; Kafka's default partitioner)."""
    partitions = list(range(PARTITIONS))
    return int(DefaultPartitioner()(str(cycle_id).encode(), partitions, partitions))


def spread_cycle_ids(count: int) -> list[UUID]:
    """`count` cycle ids whose keys fall on the partitions in turn: every partition from PARTITIONS on."""
    free: dict[int, list[UUID]] = {p: [] for p in range(PARTITIONS)}
    chosen: list[UUID] = []
    while len(chosen) < count:
        cycle_id = uuid4()
        free[partition_of(cycle_id)].append(cycle_id)
        wanted = len(chosen) % PARTITIONS
        if free[wanted]:
            chosen.append(free[wanted].pop())
    return chosen


class Mailbox:
    """Personal links in the mail sink's messages since `since`, read once per message."""

    def __init__(self, mail_dir: Path, *, since: float) -> None:
        self._dir, self._since = mail_dir, since
        self._read: set[str] = set()
        self.tokens: dict[str, str] = {}  # recipient -> token of the first link sent to them

    def scan(self) -> None:
        for path in self._dir.glob("*.eml"):
            if path.name in self._read or path.stat().st_mtime < self._since:
                continue
            self._read.add(path.name)
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            body = message.get_body(preferencelist=("plain",))
            match = RATER_LINK.search(body.get_content() if body is not None else "")  # type: ignore[union-attr]
            recipient = str(message.get("To", "")).strip().lower()
            if match and recipient not in self.tokens:
                self.tokens[recipient] = match.group(1)


def cohort_requests(count: int, *, tag: str) -> list[CycleRequested]:
    """`count` requests for a 360 of ten raters each, with distinct people, spread over the partitions."""
    return [
        build_request(cycle_id=cycle_id, facilitator_id=None, tag=f"{tag}{i:03d}")
        for i, cycle_id in enumerate(spread_cycle_ids(count))
    ]


async def ask_over_kafka(settings: BenchSettings, requests: list[CycleRequested]) -> None:
    """Publish the requests as another NHS system does, with its login (one producer for all)."""
    login = KafkaClientSettings(
        kafka_bootstrap_servers=settings.hlm360_kafka_bootstrap_servers,
        kafka_username=settings.hlm360_kafka_external_username,
        kafka_password=settings.hlm360_kafka_external_password,
    )
    producer = AIOKafkaProducer(**client_options(login), acks="all")
    await producer.start()
    try:
        for request in requests:
            await producer.send(topic_for(request), request.model_dump_json().encode(), key=request.kafka_key())
        await producer.flush()
    finally:
        await producer.stop()


async def prepare_cohort(
    settings: BenchSettings, *, cycles: int, tag: str, timeout: float = 180.0
) -> list[Questionnaire]:
    """Ask for `cycles` 360s on Kafka and wait until every rater has their link and ratings knows it."""
    since = time.time() - 1
    requests = cohort_requests(cycles, tag=tag)
    await ask_over_kafka(settings, requests)
    cycle_of = {str(r.participant.email).lower(): r.cycle_id for r in requests}
    cycle_of |= {str(rater.email).lower(): r.cycle_id for r in requests for rater in r.raters}
    mailbox = Mailbox(settings.hlm360_mail_dir, since=since)
    deadline = time.monotonic() + timeout
    while not set(cycle_of) <= set(mailbox.tokens):
        if time.monotonic() > deadline:
            missing = len(set(cycle_of) - set(mailbox.tokens))
            raise TimeoutError(f"{missing} of {len(cycle_of)} raters had no invitation after {timeout:.0f}s")
        await asyncio.sleep(0.5)
        await asyncio.to_thread(mailbox.scan)
    cohort = [Questionnaire(cycle_of[address], mailbox.tokens[address]) for address in cycle_of]
    await _wait_until_ratings_knows(settings, cohort, deadline=deadline)
    return cohort


async def _wait_until_ratings_knows(settings: BenchSettings, cohort: list[Questionnaire], *, deadline: float) -> None:
    """Every link's rater is in ratings' database and its cycle is open: no link answers 'unknown'
    (which counts towards the per-address limit of guessed links) or 'not open yet'."""
    hashes = [token_sha256(q.token) for q in cohort]
    cycle_ids = list({q.cycle_id for q in cohort})
    ratings = await connect(settings.ratings_database_url)
    try:
        while True:
            raters = await ratings.fetchval(
                "SELECT count(*) FROM ratings.rater WHERE link_token_sha256 = ANY($1)", hashes
            )
            opened = await ratings.fetchval(
                "SELECT count(*) FROM ratings.cycle WHERE id = ANY($1) AND status = 'open'", cycle_ids
            )
            if raters == len(hashes) and opened == len(cycle_ids):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"ratings knows {raters} of {len(hashes)} raters, {opened} open cycles")
            await asyncio.sleep(0.5)
    finally:
        await ratings.close()
