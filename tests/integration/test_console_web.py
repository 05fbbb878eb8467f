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
from tests.config import StackSettings, kafka_access
from tests.support import eventually, publish_events

TOKEN = "console-itest-admin-token-" + "x" * 20


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
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console") as client:
            away = await client.get("/")
            assert away.status_code == 303 and away.headers["location"] == "/sign-in"
            wrong = await client.post("/sign-in", data={"token": "not-the-token"})
            assert wrong.status_code == 422 and "Enter a valid access token" in wrong.text
            assert "hlm360_console" not in wrong.headers.get("set-cookie", "")
            signed = await client.post("/sign-in", data={"token": TOKEN})
            assert signed.status_code == 303 and "httponly" in signed.headers["set-cookie"].lower()
            assert "samesite=strict" in signed.headers["set-cookie"].lower()
            page = await client.get("/")
            assert page.status_code == 200, page.text
            assert "Signed in as local-admin" in page.text
            assert str(stuck) in page.text and str(moving) not in page.text, "only the stuck cycle is listed"
            assert "Prometheus did not answer" in page.text
            token = re.search(r'name="form_token" value="([^"]+)"', page.text)
            assert token is not None
            refused = await client.post("/sign-out", data={"form_token": "forged"})
            assert refused.status_code == 403
            out = await client.post("/sign-out", data={"form_token": token.group(1)})
            assert out.status_code == 303 and (await client.get("/")).status_code == 303
    finally:
        await feed.stop()
