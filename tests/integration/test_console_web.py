"""The operators' web console in-process against real Kafka (this run's private topics): it reads
the lifecycle topics from the beginning, shows the pipeline and stuck cycles to a signed-in operator
only, and says when Prometheus does not answer."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from console.config import ConsoleSettings
from console.lifecycle import LIFECYCLE_TOPICS, LifecycleFeed
from console.main import create_app
from console.pipeline import Pipeline
from shared.contracts.topics import NAMESPACE
from tests.config import StackSettings, kafka_access, kafka_options
from tests.support import eventually, publish_events

TOKEN = "console-itest-admin-token-" + "x" * 20
# the test's client speaks http: whatever the stack's public URL, no Secure cookie it would not send back
BASE_URL = "http://console"


def _body(event_type: str, cycle_id: uuid.UUID, when: datetime) -> bytes:
    return json.dumps({"event_type": event_type, "cycle_id": str(cycle_id), "occurred_at": when.isoformat()}).encode()


def _topic(kebab: str) -> str:
    return f"{NAMESPACE}.{kebab}.v1"


async def test_the_console_shows_the_pipeline_to_a_signed_in_operator_only(settings: StackSettings) -> None:
    now = datetime.now(UTC)
    stuck, moving = uuid.uuid4(), uuid.uuid4()
    assert _topic("cycle-closed") in LIFECYCLE_TOPICS
    await publish_events(
        settings.hlm360_kafka_bootstrap_servers,
        (_topic("cycle-opened"), str(stuck).encode(), _body("CycleOpened", stuck, now - timedelta(days=15))),
        (_topic("cycle-closed"), str(stuck).encode(), _body("CycleClosed", stuck, now - timedelta(hours=5))),
        (_topic("cycle-opened"), str(moving).encode(), _body("CycleOpened", moving, now - timedelta(hours=1))),
        (_topic("cycle-opened"), b"junk", b"not json at all"),  # the consumers dead-letter it; the console skips it
    )
    web = ConsoleSettings(
        admin_token=TOKEN,
        public_base_url=BASE_URL,
        session_secret="s" * 40,
        prometheus_url="http://127.0.0.1:9",  # nothing listens: the page says so
        jaeger_url="http://127.0.0.1:16686",
    )
    feed = LifecycleFeed(kafka_access("operator", settings.hlm360_kafka_bootstrap_servers), Pipeline())
    feed.start()
    try:
        await eventually(
            lambda: stuck in feed.pipeline.cycles and moving in feed.pipeline.cycles,
            timeout=60,
            what="the console to read the lifecycle topics",
        )
        app = create_app(web, feed=feed)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
            assert (await client.get("/")).status_code == 404, "/ is invitations' start page on the shared origin"
            bare = await client.get("/console")
            assert bare.status_code == 307 and bare.headers["location"] == "/console/"
            away = await client.get("/console/")
            assert away.status_code == 303 and away.headers["location"] == "/console/sign-in"
            wrong = await client.post("/console/sign-in", data={"token": "not-the-token"})
            assert wrong.status_code == 422 and "Enter a valid access token" in wrong.text
            assert "hlm360_console" not in wrong.headers.get("set-cookie", "")
            signed = await client.post("/console/sign-in", data={"token": TOKEN})
            assert signed.status_code == 303 and "httponly" in signed.headers["set-cookie"].lower()
            assert "samesite=strict" in signed.headers["set-cookie"].lower()
            assert re.search(r"(?i)path=/console(;|$)", signed.headers["set-cookie"]), "sent to the console only"
            assert signed.headers["location"] == "/console/"
            page = await client.get("/console/")
            assert page.status_code == 200, page.text
            assert "Signed in as local-admin" in page.text
            assert 'class="nhsuk-header__service-logo" href="/console/"' in page.text, "home is the overview"
            assert str(stuck) in page.text and str(moving) not in page.text, "only the stuck cycle is listed"
            assert "Prometheus did not answer" in page.text
            token = re.search(r'name="form_token" value="([^"]+)"', page.text)
            assert token is not None
            refused = await client.post("/console/sign-out", data={"form_token": "forged"})
            assert refused.status_code == 403
            out = await client.post("/console/sign-out", data={"form_token": token.group(1)})
            assert out.status_code == 303 and out.headers["location"] == "/console/sign-in"
            assert (await client.get("/console/")).status_code == 303
    finally:
        await feed.stop()


async def test_an_operator_replays_a_dead_letter_from_the_console_after_confirming(settings: StackSettings) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from shared.contracts import deadletters as dl
    from shared.contracts.topics import DEAD_LETTER_TOPIC

    source, cycle = _topic("cycle-requested"), uuid.uuid4()
    body = _body("CycleRequested", cycle, datetime.now(UTC))
    options = kafka_options(settings.hlm360_kafka_bootstrap_servers)
    producer = AIOKafkaProducer(**options, acks="all")
    await producer.start()
    try:
        headers = [
            (dl.CONSUMER, b"invitations.open-cycle"),
            (dl.SOURCE_TOPIC, source.encode()),
            (dl.KIND, b"rejected"),
            (dl.REASON, b"the programme credit reference is not known"),
            (dl.AT, datetime.now(UTC).isoformat().encode()),
            ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ]
        sent = await producer.send_and_wait(DEAD_LETTER_TOPIC, body, key=str(cycle).encode(), headers=headers)
    finally:
        await producer.stop()
    ref = f"{DEAD_LETTER_TOPIC}:{sent.partition}:{sent.offset}"
    web = ConsoleSettings(
        admin_token=TOKEN, public_base_url=BASE_URL, session_secret="s" * 40, prometheus_url="http://127.0.0.1:9"
    )
    app = create_app(web, feed=LifecycleFeed(kafka_access("operator"), Pipeline()))
    letters, ours = "/console/dead-letters", {"consumer": "invitations", "reason": "credit reference"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
        assert (await client.get(letters)).status_code == 303, "operators only"
        await client.post("/console/sign-in", data={"token": TOKEN})
        listed = await client.get(letters, params=ours)
        assert listed.status_code == 200 and ref in listed.text and str(cycle) not in listed.text, "no payload listed"
        assert (await client.get(letters, params={"older_than": "soon"})).status_code == 422
        shown = await client.get(f"{letters}/{ref}")
        assert shown.status_code == 200 and str(cycle) in shown.text and "traceparent" in shown.text
        assert (await client.get(f"{letters}/{DEAD_LETTER_TOPIC}:0:999999999")).status_code == 404
        token = re.search(r'name="form_token" value="([^"]+)"', shown.text)
        assert token is not None
        form = {"form_token": token.group(1), "ids": ref, "action": "replay"}
        assert (await client.post(f"{letters}/act", data={**form, "form_token": "forged"})).status_code == 403
        asked = await client.post(f"{letters}/act", data=form)
        assert asked.status_code == 200 and "Replay 1 dead letter?" in asked.text
        done = await client.post(f"{letters}/act", data={**form, "confirm": "yes"})
        assert done.status_code == 200 and "1 dead letter replayed" in done.text
        after = await client.get(letters, params=ours)
        assert ref not in after.text, "a replayed dead letter is no longer listed"
        assert "replayed by local-admin" in (await client.get(letters, params={"all": "yes"})).text

    consumer = AIOKafkaConsumer(**options, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(source, p) for p in (await _partitions_of(consumer, source))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        replayed = []
        for _ in range(20):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                replayed += [r for r in records if r.key == str(cycle).encode()]
            if replayed:
                break
    finally:
        await consumer.stop()
    [again] = replayed
    assert again.value == body and dl.REPLAY in dict(again.headers) and ("traceparent", headers[-1][1]) in again.headers


async def _partitions_of(consumer: object, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # type: ignore[attr-defined]
    return consumer.partitions_for_topic(topic) or {0}  # type: ignore[attr-defined]
