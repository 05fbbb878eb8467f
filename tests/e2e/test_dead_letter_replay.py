"""A dead letter whose cause an operator fixes is replayed with `hlm360` and processed exactly once.

Another NHS system asks for a 360 paid by a programme credit account the programme team has not
created yet: the running invitations service refuses it (`rejected`) and dead-letters it. The team
creates the account (`hlm360 invitations credits top-up`), an operator replays the dead letter
(`hlm360 dead-letters replay ID --yes`): the 360 opens, one credit is taken. A second replay of the
same dead letter is dropped by the consumer's inbox: still one 360, one credit, one CycleOpened.

Run it alone (it restarts nothing, but needs the four services up: `make up` once):
    set -a && . .local/env && . .local/operator.env && set +a
    .venv/bin/python -m pytest tests/e2e/test_dead_letter_replay.py -q -p no:cacheprovider
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import httpx
from aiokafka import AIOKafkaProducer

from console.deadletters import DeadLetters
from deploy.demo.journey import build_request
from shared.contracts.events import CycleRequested, Funding
from shared.contracts.topics import DEAD_LETTER_TOPIC, topic_for
from shared.contracts.vocabulary import FundingMethod
from tests.config import REPO, StackSettings, kafka_options
from tests.e2e.conftest import Databases
from tests.support import TopicReader, committed_offsets, eventually, header

HLM360 = Path(sys.executable).parent / "hlm360"
CONSUMER = "invitations.open-cycle"


def hlm360(*args: str) -> subprocess.CompletedProcess[str]:
    """The operators' command line with the stack's environment (.local/env and .local/operator.env)."""
    stack = {}
    for name in ("env", "operator.env"):
        path = REPO / ".local" / name
        stack |= dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    env = {**os.environ, **stack, "COLUMNS": "250"}
    return subprocess.run([str(HLM360), *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=180)


async def test_a_request_refused_for_a_missing_credit_account_is_replayed_after_the_fix_and_opens_once(
    settings: StackSettings, dbs: Databases
) -> None:
    ensured = hlm360("topics", "ensure")  # the audit topic is new: a stack started before it lacks it
    assert ensured.returncode == 0, ensured.stderr
    tag = uuid4().hex[:8]
    reference = f"E2E-REPLAY-{tag.upper()}"
    asked = build_request(cycle_id=uuid4(), facilitator_id=None, tag=tag).model_copy(
        update={"funding": Funding(method=FundingMethod.PROGRAMME_CREDIT, reference=reference)}
    )
    producer = AIOKafkaProducer(**kafka_options(principal="external"), acks="all")
    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, DEAD_LETTER_TOPIC) as dead_letters:
        await producer.start()
        try:
            await producer.send_and_wait(
                topic_for(CycleRequested), asked.model_dump_json().encode(), key=asked.kafka_key()
            )
        finally:
            await producer.stop()
        [record] = await dead_letters.wait_for(lambda r: r.key == asked.kafka_key(), timeout=60)
    assert header(record, "x-dead-letter-consumer") == CONSUMER
    assert "no programme credit account" in (header(record, "x-dead-letter-reason") or "")
    dead_letter = f"{record.topic}:{record.partition}:{record.offset}"
    listed = hlm360("dead-letters", "list", "--consumer", CONSUMER, "--reason", "credit account", "--newer-than", "1h")
    assert listed.returncode == 0 and dead_letter in listed.stdout, listed.stdout + listed.stderr
    assert await dbs.fetch("invitations", "SELECT 1 FROM cycle WHERE id = $1", asked.cycle_id) == []

    # The fix: the programme team creates the account (two credits, so a second opening would show).
    funded = hlm360("invitations", "credits", "top-up", reference, "--programme", "E2E replay", "--credits", "2")
    assert funded.returncode == 0 and f"{reference}: 2 credit(s)" in funded.stderr, funded.stderr
    replayed = hlm360("dead-letters", "replay", dead_letter, "--yes", "--by", "e2e-operator")
    assert replayed.returncode == 0 and "1 dead letter(s) replayed by e2e-operator" in replayed.stdout, replayed.stderr

    async def opened() -> bool:
        async with httpx.AsyncClient() as http:
            url = f"{settings.invitations_url}/api/cycles/{asked.cycle_id}"
            return (await http.get(url, headers=settings.admin_headers("invitations"))).status_code == 200

    assert await eventually(opened, timeout=60, what="the replayed request opened")

    # Replayed a second time (a mistake, or two operators at once): the inbox drops it.
    again = hlm360("dead-letters", "replay", dead_letter, "--yes", "--by", "e2e-operator")
    assert again.returncode == 0, again.stderr
    library = DeadLetters(kafka_options(settings.hlm360_kafka_bootstrap_servers))
    replays = [e for e in await library.audit() if str(e.dead_letter) == dead_letter and e.action == "replayed"]
    assert len(replays) == 2 and all(e.by == "e2e-operator" and e.replayed_to for e in replays)
    latest = max((e.replayed_to for e in replays if e.replayed_to), key=lambda ref: ref.offset)

    async def consumed() -> bool:
        offsets = await committed_offsets(settings.hlm360_kafka_bootstrap_servers, CONSUMER)
        return offsets.get((latest.topic, latest.partition), -1) > latest.offset

    await eventually(consumed, timeout=60, what="the second replay consumed")
    [account] = await dbs.fetch("invitations", "SELECT balance FROM credit_account WHERE reference = $1", reference)
    assert account["balance"] == 1, "one credit taken: the 360 opened once"
    cycles = await dbs.fetch("invitations", "SELECT id FROM cycle WHERE id = $1", asked.cycle_id)
    inbox = await dbs.fetch(
        "invitations", "SELECT 1 FROM inbox WHERE consumer = $1 AND event_id = $2", CONSUMER, asked.event_id
    )
    announced = await dbs.fetch(
        "invitations",
        "SELECT 1 FROM outbox WHERE event_type = 'CycleOpened' AND payload::jsonb ->> 'cycle_id' = $1",
        str(asked.cycle_id),
    )
    assert (len(cycles), len(inbox), len(announced)) == (1, 1, 1)
    hidden = hlm360("dead-letters", "list", "--consumer", CONSUMER, "--newer-than", "1h")
    assert dead_letter not in hidden.stdout, "a replayed dead letter is no longer listed"
