"""Other NHS systems publish CycleRequested: bad ones go to the dead-letter topic with a reason,
and the invitations service keeps processing the good ones."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
from aiokafka import AIOKafkaProducer

from deploy.demo.journey import build_request
from shared.contracts.events import CycleRequested
from shared.contracts.topics import DEAD_LETTER_TOPIC, topic_for
from tests.config import StackSettings, kafka_options
from tests.support import TopicReader, eventually, header

TOPIC = topic_for(CycleRequested)


async def test_malformed_and_refused_requests_are_dead_lettered_and_a_valid_one_after_them_opens(
    settings: StackSettings,
) -> None:
    valid = build_request(cycle_id=uuid4(), facilitator_id=None, tag=uuid4().hex[:8])
    good = valid.model_dump(mode="json")
    duplicate_raters = {
        **good,
        "cycle_id": str(uuid4()),
        "event_id": str(uuid4()),
        "raters": [good["raters"][0], good["raters"][1], good["raters"][1]],
    }
    past_deadline = {
        **good,
        "cycle_id": str(uuid4()),
        "event_id": str(uuid4()),
        "deadline": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
    }
    bad_email = {**good, "cycle_id": str(uuid4()), "participant": {**good["participant"], "email": "not-an-email"}}
    cases: list[tuple[str, bytes, str]] = [
        ("not-json", b"{this is not json", "invalid event"),
        ("missing-fields", b'{"event_type": "CycleRequested"}', "participant"),
        ("wrong-types", b'{"event_type": "CycleRequested", "producer": 5, "cycle_id": 7}', "cycle_id"),
        (
            "bad-email",
            CycleRequested.model_validate(good)
            .model_dump_json()
            .encode()
            .replace(str(good["participant"]["email"]).encode(), b"not-an-email"),
            "participant.email",
        ),
        ("refused-duplicates", _json(duplicate_raters), "more than once"),
        ("refused-deadline", _json(past_deadline), "deadline"),
    ]
    del bad_email
    # another NHS system: the only principal besides invitations that may write CycleRequested
    producer = AIOKafkaProducer(**kafka_options(principal="external"), acks="all")
    await producer.start()
    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, DEAD_LETTER_TOPIC) as dead_letters:
        try:
            for name, body, _ in cases:
                await producer.send_and_wait(TOPIC, body, key=f"case-{name}-{valid.cycle_id}".encode())
            await producer.send_and_wait(TOPIC, valid.model_dump_json().encode(), key=valid.kafka_key())
        finally:
            await producer.stop()
        for name, _, reason in cases:
            key = f"case-{name}-{valid.cycle_id}".encode()
            found = await dead_letters.wait_for(lambda r, k=key: r.key == k, timeout=30)
            assert reason in (header(found[0], "x-dead-letter-reason") or ""), name
            assert header(found[0], "x-dead-letter-consumer") == "invitations.open-cycle"

    async def opened() -> bool:
        async with httpx.AsyncClient() as http:
            return (
                await http.get(
                    f"{settings.invitations_url}/api/cycles/{valid.cycle_id}",
                    headers=settings.admin_headers("invitations"),
                )
            ).status_code == 200

    assert await eventually(opened, timeout=30, what="the valid request after the bad ones")


def _json(data: dict[str, object]) -> bytes:
    import json

    return json.dumps(data).encode()
