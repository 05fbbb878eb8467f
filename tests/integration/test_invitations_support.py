"""Helpers for the invitations integration tests (no tests here): an SMTP server in the test that
keeps what it receives and answers 550 for chosen recipients, Kafka publishing, request bodies,
and running the service twice on one database (a restart)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import text

from deploy.demo.journey import build_request
from invitations.links import purpose_token
from shared.contracts.events import CycleRequested, Event
from shared.db import create_engine
from shared.links import SigningKeys
from shared.migrations import upgrade
from tests.config import StackSettings
from tests.integration.conftest import ServiceUnderTest
from tests.support import publish_events

LINK_SECRET = "integration-link-secret-" + "k" * 40


def in_a_day() -> datetime:
    """An expiry for personal links a test signs itself (docs/adr/0016)."""
    return datetime.now(UTC) + timedelta(days=1)


def link_token(
    purpose: str, cycle_id: uuid.UUID, *, secret: str = LINK_SECRET, expires_at: datetime | None = None
) -> str:
    """A personal link's token (participant, approval, confirm), as the service signs it; in date by default."""
    return purpose_token(SigningKeys(secret.encode()), purpose, cycle_id, expires_at=expires_at or in_a_day())


MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "invitations" / "migrations"


@dataclass
class Received:
    to: str
    kind: str
    message: EmailMessage

    @property
    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        return body.get_content() if body is not None else ""  # type: ignore[union-attr]


@dataclass
class CaptureHandler:
    """Keeps every message; refuses recipients in `refuse` with a permanent 550."""

    refuse: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        for to in envelope.rcpt_tos:
            self.received.append(Received(to.lower(), str(message.get("X-HLM360-Kind", "")), message))
        return "250 Message accepted"

    def to(self, address: str, kind: str | None = None) -> list[Received]:
        return [r for r in self.received if r.to == address.lower() and (kind is None or r.kind == kind)]


@asynccontextmanager
async def smtp_capture() -> AsyncIterator[tuple[CaptureHandler, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = CaptureHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def fast(**overrides: object) -> dict[str, object]:
    """Settings for tests: quick jobs, no gap between invitation and reminder."""
    return {
        "link_secret": LINK_SECRET,
        "mail_poll_seconds": 0.1,
        "reminder_poll_seconds": 0.2,
        "reminder_min_gap_hours": 0.0,
        # these tests start 360s as a trusted caller would; test_invitations_confirmation covers the
        # public routes' default (nobody contacted until the participant confirms)
        "confirm_public_requests": False,
        # one test client asks for many 360s; the limits have their own test there too
        "public_requests_per_client_per_hour": 10_000,
        "public_requests_per_participant_per_day": 10_000,
        **overrides,
    }


def request(*, days: float = 14, tag: str | None = None, **changes: Any) -> CycleRequested:
    base = build_request(cycle_id=uuid.uuid4(), facilitator_id=None, tag=tag or uuid.uuid4().hex[:8])
    return base.model_copy(update={"deadline": datetime.now(UTC) + timedelta(days=days), **changes})


def api_body(event: CycleRequested) -> dict[str, Any]:
    """The body of POST /api/cycles asking for this 360 (the server chooses the cycle id)."""
    return event.model_dump(
        mode="json", include={"participant", "programme", "deadline", "funding", "raters", "facilitator_id"}
    )


async def post_body(client: httpx.AsyncClient, body: dict[str, Any]) -> uuid.UUID:
    """POST /api/cycles with this body (202 expected): the cycle id the server chose."""
    response = await client.post("/api/cycles", json=body)
    assert response.status_code == 202, response.text
    return uuid.UUID(response.json()["cycle_id"])


async def post_cycle(client: httpx.AsyncClient, event: CycleRequested) -> CycleRequested:
    """Ask for the 360 on POST /api/cycles (202 expected): the event, with the cycle id the server chose."""
    return event.model_copy(update={"cycle_id": await post_body(client, api_body(event))})


async def publish(settings: StackSettings, *events: Event | tuple[str, bytes, bytes]) -> None:
    """Publish events (or raw (topic, key, body) triples) to the real Kafka."""
    await publish_events(settings.hlm360_kafka_bootstrap_servers, *events)


async def rows(service: ServiceUnderTest, sql: str, **params: Any) -> list[Any]:
    async with service.runtime.uow() as uow:
        return list((await uow.session.execute(text(sql), params)).all())


@asynccontextmanager
async def fresh_database(stack: StackSettings) -> AsyncIterator[str]:
    """A migrated database that outlives one service instance (for restart tests)."""
    admin_url = stack.test_database_url.get_secret_value()
    name = f"invitations_restart_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url)
    async with admin.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    await asyncio.to_thread(upgrade, MIGRATIONS, url)
    try:
        yield url
    finally:
        async with admin.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@asynccontextmanager
async def service_on(
    database_url: str, stack: StackSettings, *, group: str, **overrides: object
) -> AsyncIterator[ServiceUnderTest]:
    """The invitations service on an existing database, with a fixed consumer group (a restart)."""
    from invitations.config import Settings
    from invitations.main import create_app

    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=stack.hlm360_kafka_bootstrap_servers,
        consumer_group_prefix=group,
        consumer_retry_backoff_seconds=0.1,
        outbox_poll_seconds=0.1,
        **overrides,  # type: ignore[arg-type]
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        service = ServiceUnderTest(app, app.state.runtime, database_url)
        yield service
        await service.client.aclose()
