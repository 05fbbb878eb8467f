"""The event backbone is authenticated and authorised (shared/contracts/channels.py): on the running
broker, with the logins the stack made, each principal can do what the access table says and the
broker refuses the rest."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from pydantic import SecretStr

from shared.contracts.channels import OBSERVATIONS, READERS, SERVICES, WRITERS, reads, writes
from shared.contracts.events import (
    CycleClosed,
    CycleRequested,
    Event,
    FeedbackSessionCompleted,
    RaterNominated,
    RatingSubmitted,
    ResponseReceived,
)
from shared.contracts.topics import DEAD_LETTER_TOPIC, topic_for
from shared.messaging import client_options
from tests.config import kafka_access, kafka_options

TIMEOUT = 20


async def _write(options: dict[str, object], topic: str) -> None:
    """Send one (meaningless) record; raises what the broker answers."""
    producer = AIOKafkaProducer(**options, acks="all", request_timeout_ms=10_000)
    await producer.start()
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, b"{}", key=str(uuid4()).encode()), TIMEOUT)
    finally:
        await producer.stop()


async def _read(options: dict[str, object], topic: str, *, group: str) -> None:
    """Join `group` and fetch from `topic` once; raises what the broker answers."""
    consumer = AIOKafkaConsumer(topic, **options, group_id=group, auto_offset_reset="latest")
    await consumer.start()
    try:
        await asyncio.wait_for(consumer.getmany(timeout_ms=2000), TIMEOUT)
    finally:
        await consumer.stop()


def external() -> dict[str, object]:
    return kafka_options(principal="external")


@pytest.mark.parametrize("event", [FeedbackSessionCompleted, RaterNominated, RatingSubmitted], ids=lambda e: e.__name__)
async def test_other_systems_cannot_write_what_a_service_owns(event: type[Event]) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await _write(external(), topic_for(event))


async def test_other_systems_cannot_read_answers() -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await _read(external(), topic_for(RatingSubmitted), group=f"external.probe-{uuid4().hex[:8]}")


async def test_invitations_cannot_read_answers_only_the_fact_of_a_response() -> None:
    """Issue 12, minimum data in events (docs/adr/0015): invitations knows who the raters are."""
    invitations = kafka_options(principal="invitations")
    with pytest.raises(TopicAuthorizationFailedError):
        await _read(invitations, topic_for(RatingSubmitted), group=f"invitations.probe-{uuid4().hex[:8]}")
    await _read(invitations, topic_for(ResponseReceived), group=f"invitations.probe-{uuid4().hex[:8]}")


async def test_other_systems_cannot_read_the_dead_letters_of_others() -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await _read(external(), DEAD_LETTER_TOPIC, group=f"external.probe-{uuid4().hex[:8]}")


async def test_other_systems_read_what_the_contract_offers_in_their_own_groups_only() -> None:
    await _read(external(), topic_for(CycleClosed), group=f"external.probe-{uuid4().hex[:8]}")
    with pytest.raises(GroupAuthorizationFailedError):
        await _read(external(), topic_for(CycleClosed), group=f"reports.probe-{uuid4().hex[:8]}")


async def test_other_systems_may_write_cycle_requested() -> None:
    # a body that is not an event: invitations dead-letters it, which test_intake_dead_letter covers
    await _write(external(), topic_for(CycleRequested))


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_cannot_write_another_services_topic(service: str) -> None:
    others = [event for event in WRITERS if service not in WRITERS[event]]
    with pytest.raises(TopicAuthorizationFailedError):
        await _write(kafka_options(principal=service), topic_for(others[0]))


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_cannot_read_what_it_does_not_consume(service: str) -> None:
    unread = [event for event in READERS if service not in READERS[event]]
    with pytest.raises(TopicAuthorizationFailedError):
        await _read(kafka_options(principal=service), topic_for(unread[0]), group=f"{service}.probe-{uuid4().hex[:8]}")


def test_the_table_gives_each_service_something_to_refuse() -> None:
    for service in SERVICES:
        if service == OBSERVATIONS:  # the journal neither writes nor reads events (yet): everything is refused
            assert not writes(service) and not reads(service)
            continue
        assert writes(service) and reads(service)
        assert len(writes(service)) < len(WRITERS) and len(reads(service)) < len(READERS)


async def test_a_wrong_password_or_no_login_is_refused() -> None:
    wrong = kafka_access("external").model_copy(update={"kafka_password": SecretStr("not-the-password")})
    with pytest.raises(KafkaError):
        await _write(client_options(wrong), topic_for(CycleRequested))
    anonymous = client_options(
        kafka_access("external").model_copy(update={"kafka_username": None, "kafka_password": None})
    )
    with pytest.raises((KafkaConnectionError, KafkaError, asyncio.TimeoutError)):
        await _write(anonymous, topic_for(CycleRequested))
