"""How a 360 is asked for in the demo and e2e journeys: on POST /api/cycles as a person would (the
server chooses the cycle id; the participant confirms by the link emailed to them when the service
asks for it), or on Kafka as another NHS system does with the external principal's login."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from aiokafka import AIOKafkaProducer

from deploy.demo.mailbox import link_to, poll
from shared.contracts.events import CycleRequested
from shared.contracts.topics import topic_for
from shared.messaging import client_options
from shared.settings import KafkaClientSettings

CONFIRM_LINK = re.compile(r"(https?://\S+/confirm/(?P<cycle>[0-9a-f-]{36})/[A-Za-z0-9_.\-]+)")
AWAITING_CONFIRMATION = "awaiting_confirmation"
API_FIELDS = {"participant", "programme", "deadline", "funding", "raters", "facilitator_id"}


def api_body(request: CycleRequested) -> dict[str, Any]:
    """The body of POST /api/cycles asking for this 360: the event's fields without the envelope and
    without the cycle id (the server chooses it)."""
    return request.model_dump(mode="json", include=API_FIELDS)


async def confirm_by_email(
    http: httpx.AsyncClient, *, mail_dir: Path, participant_email: str, cycle_id: UUID, timeout: float
) -> None:
    """Follow the confirmation link emailed to the participant: open the page, then confirm on it."""

    async def link() -> str | None:
        return link_to(mail_dir, participant_email, CONFIRM_LINK, cycle_id)

    url = await poll(link, timeout=timeout, what="the confirmation email")
    (await http.get(url)).raise_for_status()  # opening it confirms nothing (mail scanners open links)
    (await http.post(url)).raise_for_status()


async def ask_over_http(
    http: httpx.AsyncClient,
    request: CycleRequested,
    *,
    invitations_url: str,
    mail_dir: Path,
    timeout: float,
    idempotency_key: str | None = None,
) -> UUID:
    """Ask for the 360 on POST /api/cycles and confirm it if asked to: the cycle id the server chose."""
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    response = await http.post(f"{invitations_url}/api/cycles", json=api_body(request), headers=headers)
    response.raise_for_status()
    answer = response.json()
    cycle_id = UUID(answer["cycle_id"])
    if answer.get("status") == AWAITING_CONFIRMATION:
        participant = str(request.participant.email)
        await confirm_by_email(
            http, mail_dir=mail_dir, participant_email=participant, cycle_id=cycle_id, timeout=timeout
        )
    return cycle_id


async def ask_over_kafka(request: CycleRequested, *, login: KafkaClientSettings) -> UUID:
    """Publish the request as another NHS system does (it chooses the cycle id): that id."""
    producer = AIOKafkaProducer(**client_options(login), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic_for(request), request.model_dump_json().encode(), key=request.kafka_key())
    finally:
        await producer.stop()
    return request.cycle_id
