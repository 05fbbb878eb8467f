"""Invitations in-process against real Kafka, PostgreSQL and SMTP."""

import json
from uuid import uuid4

from deploy.demo.journey import build_request
from invitations.domain import verified_participant_id
from shared.contracts.events import CycleOpened, RaterNominated
from shared.contracts.topics import topic_for
from tests.config import StackSettings
from tests.integration.conftest import running_service
from tests.support import TopicReader


async def test_http_request_opens_cycle_once_and_announces_it_on_kafka(settings: StackSettings) -> None:
    request = build_request(cycle_id=uuid4(), facilitator_id=None, tag=uuid4().hex[:8])
    body = request.model_dump(mode="json", include={"participant", "deadline", "funding", "raters"})
    retry = {"Idempotency-Key": f"itest-{uuid4()}"}
    async with (
        running_service("invitations", settings, link_secret="x" * 64, confirm_public_requests=False) as service,
        TopicReader(
            settings.hlm360_kafka_bootstrap_servers, topic_for(CycleOpened), topic_for(RaterNominated)
        ) as reader,
    ):
        first = await service.client.post("/api/cycles", json=body, headers=retry)
        again = await service.client.post("/api/cycles", json=body, headers=retry)
        assert (first.status_code, first.json()["created"]) == (202, True)
        assert (again.status_code, again.json()["created"]) == (202, False), "the same Idempotency-Key: a retry"
        assert first.json()["cycle_id"] == again.json()["cycle_id"] != str(request.cycle_id)
        chosen = await service.client.post("/api/cycles", json=body | {"cycle_id": str(request.cycle_id)})
        assert chosen.status_code == 422 and "cycle ids are chosen by hlm360" in chosen.text
        other = await service.client.post("/api/cycles", json=body, headers={"Idempotency-Key": f"itest-{uuid4()}"})
        assert other.status_code == 202 and other.json()["cycle_id"] != first.json()["cycle_id"]
        bad_key = await service.client.post("/api/cycles", json=body, headers={"Idempotency-Key": "short"})
        assert bad_key.status_code == 422
        key = first.json()["cycle_id"].encode()
        records = await reader.wait_for(lambda r: r.key == key, count=11)
    events = [json.loads(r.value) for r in records]
    opened = [e for e in events if e["event_type"] == "CycleOpened"]
    assert len(opened) == 1 and opened[0]["invited_per_group"]["peer"] == 3
    assert opened[0]["participant_email"] == str(request.participant.email)
    # issue 12: a typed participant id is not verified; earlier 360s link by the confirmed mailbox only
    assert opened[0]["participant_id"] == verified_participant_id(str(request.participant.email).upper())
    assert opened[0]["participant_id"] != request.participant.participant_id
    nominated = [e for e in events if e["event_type"] == "RaterNominated"]
    assert len(nominated) == 10
    assert all("email" not in e and "name" not in e for e in nominated), "raters stay pseudonymous on Kafka"
