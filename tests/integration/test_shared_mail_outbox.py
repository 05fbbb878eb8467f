"""The shared mail outbox against real PostgreSQL and real SMTP: the stack's mail sink (which fails
the next delivery to an address with 451 when `.fail-next-for-<address>` exists) and, for a
permanent refusal the sink never gives, an SMTP server in the test that answers 550. No row can
block the queue, and a resend after a crash repeats the same Message-ID and follow-up event id."""

import asyncio
import dataclasses
import importlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from uuid import UUID

import pytest
from prometheus_client import generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, col, select

from shared.db import OutboxMessage, UnitOfWork, UnitOfWorkFactory, create_engine, session_factory
from shared.mail import new_message
from shared.mail_outbox import NotNeeded, OutgoingEmailBase, due_email_query, follow_up_event_id, queue_email
from shared.mail_sender import MailSender, Outcome
from shared.metrics import ServiceMetrics
from shared.migrations import upgrade
from shared.settings import MailSettings
from tests.config import StackSettings
from tests.integration.conftest import scratch_database
from tests.integration.test_invitations_support import LINK_SECRET, MIGRATIONS, request, smtp_capture
from tests.support import eventually

SINK_PORT = 2525  # the stack's mail sink (deploy/local/mailsink.py)


class ProbeEmail(OutgoingEmailBase, table=True):
    """A service's mail outbox table: the shared columns plus its own."""

    __tablename__ = "probe_outgoing_email"

    to_address: str


class Service:
    """What a service gives the shared sender: how a row becomes a message, and its callbacks."""

    def __init__(self) -> None:
        self.sent: list[UUID] = []
        self.refused: list[tuple[UUID, int]] = []

    async def compose(self, uow: UnitOfWork, email: ProbeEmail) -> EmailMessage | NotNeeded:
        # a name in the subject may hold a line separator; an address with one cannot be mailed
        message = new_message(
            email_id=email.id,
            sender="HLM 360 <no-reply@hlm360.example.nhs.uk>",
            to=email.to_address,
            subject=f"Shared mail outbox probe {email.to_address}\u2028",
        )
        message.set_content("probe")
        return message

    async def after_sent(self, uow: UnitOfWork, email: ProbeEmail) -> None:
        self.sent.append(email.id)

    async def on_refused(self, uow: UnitOfWork, email: ProbeEmail, code: int) -> None:
        self.refused.append((email.id, code))

    def sender(self, *, port: int = SINK_PORT) -> MailSender[ProbeEmail]:
        settings = MailSettings(smtp_host="127.0.0.1", smtp_port=port, mail_max_attempts=5)
        return MailSender(
            table=ProbeEmail,
            settings=settings,
            compose=self.compose,
            after_sent=self.after_sent,
            on_refused=self.on_refused,
        )


@pytest.fixture
async def uow(test_engine: AsyncEngine) -> AsyncIterator[UnitOfWorkFactory]:
    async with test_engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all, tables=[ProbeEmail.__table__])
        await connection.execute(text("TRUNCATE probe_outgoing_email"))
    sessions = session_factory(test_engine)
    yield lambda: UnitOfWork(sessions)


@dataclass(frozen=True)
class Queued:
    id: UUID
    to_address: str


async def queue(uow: UnitOfWorkFactory, count: int = 1, *, addresses: list[str] | None = None) -> list[Queued]:
    """Queue emails due one after the other, in this order."""
    addresses = addresses or [f"probe-{i}@example.nhs.uk" for i in range(count)]
    due = datetime.now(UTC) - timedelta(seconds=1)
    async with uow() as work:
        emails = [
            queue_email(work, ProbeEmail(kind="probe", to_address=a, next_attempt_at=due + timedelta(milliseconds=i)))
            for i, a in enumerate(addresses)
        ]
        await work.commit()
        return [Queued(e.id, e.to_address) for e in emails]


async def row(uow: UnitOfWorkFactory, email_id: UUID) -> ProbeEmail | None:
    async with uow() as work:
        found = await work.session.get(ProbeEmail, email_id)
        if found is not None:
            work.session.expunge(found)  # readable after the unit of work ends
        return found


def deliveries(mail_dir: Path, email_ids: list[UUID], *, since: float) -> dict[UUID, int]:
    """How many messages the sink stored for each email (found by its stable Message-ID)."""
    counts = dict.fromkeys(email_ids, 0)
    for path in mail_dir.glob("*.eml"):
        if path.stat().st_mtime < since:
            continue
        content = path.read_text(errors="replace")
        for email_id in email_ids:
            counts[email_id] += f"<{email_id}@hlm360.nhs.invalid>" in content
    return counts


async def test_an_email_queued_in_a_rolled_back_transaction_is_never_sent(
    uow: UnitOfWorkFactory, settings: StackSettings
) -> None:
    started, service = time.time() - 1, Service()
    with pytest.raises(RuntimeError):
        async with uow() as work:
            rolled_back = queue_email(work, ProbeEmail(kind="probe", to_address="never@example.nhs.uk")).id
            raise RuntimeError("the use case failed after queueing")
    [committed] = await queue(uow)

    assert await service.sender().drain(uow) == [Outcome.SENT]
    assert await row(uow, rolled_back) is None
    assert service.sent == [committed.id]
    counts = deliveries(settings.hlm360_mail_dir, [committed.id, rolled_back], since=started)
    assert counts == {committed.id: 1, rolled_back: 0}


async def test_two_concurrent_senders_send_each_email_exactly_once(
    uow: UnitOfWorkFactory, settings: StackSettings
) -> None:
    started, service = time.time() - 1, Service()
    emails = await queue(uow, 12)
    first, second = service.sender(), service.sender()

    outcomes = await asyncio.gather(first.drain(uow), second.drain(uow))

    assert outcomes[0] and outcomes[1], "both senders took part"
    assert sorted(outcomes[0] + outcomes[1]) == [Outcome.SENT] * 12
    assert sorted(map(str, service.sent)) == sorted(str(e.id) for e in emails)
    assert all(r is not None and r.attempts == 1 and r.sent_at for r in [await row(uow, e.id) for e in emails])
    counts = deliveries(settings.hlm360_mail_dir, [e.id for e in emails], since=started)
    assert counts == {e.id: 1 for e in emails}


async def test_a_temporary_451_is_retried_after_a_backoff_then_delivered_once(
    uow: UnitOfWorkFactory, settings: StackSettings
) -> None:
    started, service = time.time() - 1, Service()
    sender = service.sender()
    [email] = await queue(uow)
    # only this email fails: the sink is shared with the running services
    fail_next = settings.hlm360_mail_dir / f".fail-next-for-{email.to_address}"
    fail_next.touch()
    failed_at = datetime.now(UTC)
    assert await sender.drain(uow) == [Outcome.RETRY]
    failed = await row(uow, email.id)
    assert failed is not None and failed.sent_at is None and failed.gave_up_at is None
    assert (failed.attempts, failed.last_error) == (1, "SMTPDataError 451")
    assert failed.next_attempt_at >= failed_at + timedelta(seconds=2)
    assert await sender.drain(uow) == [], "not tried again before its backoff"

    assert await eventually(lambda: sender.drain(uow), timeout=10, interval=0.5) == [Outcome.SENT]
    delivered = await row(uow, email.id)
    assert delivered is not None and delivered.attempts == 2 and delivered.sent_at
    assert service.sent[-1] == email.id and not fail_next.exists()
    assert deliveries(settings.hlm360_mail_dir, [email.id], since=started) == {email.id: 1}


async def test_a_permanent_refusal_calls_the_service_once_and_is_never_retried(uow: UnitOfWorkFactory) -> None:
    service = Service()
    async with smtp_capture() as (server, port):
        [email] = await queue(uow)
        server.refuse.add(email.to_address)
        sender = service.sender(port=port)

        assert await sender.drain(uow) == [Outcome.REFUSED]
        await asyncio.sleep(2.5)  # past the first backoff: a retry would be due by now
        assert await sender.drain(uow) == []

    refused = await row(uow, email.id)
    assert refused is not None and refused.sent_at is None and refused.gave_up_at is not None
    assert (refused.attempts, refused.last_error) == (1, "permanent SMTP failure 550")
    assert service.refused == [(email.id, 550)] and service.sent == []
    assert server.received == []


async def test_operators_see_the_backlog_and_every_outcome_by_kind(uow: UnitOfWorkFactory) -> None:
    metrics = ServiceMetrics("probe")
    service = Service()

    def value(name: str, **labels: str) -> float:
        found = metrics.registry.get_sample_value(name, labels)
        return found if found is not None else 0.0

    async with smtp_capture() as (server, port):
        sender = dataclasses.replace(service.sender(port=port), metrics=metrics)
        emails = await queue(uow, 3)
        server.refuse.add(emails[0].to_address)
        await sender.sample_backlog(uow)
        assert value("hlm360_mail_pending_emails") == 3
        assert value("hlm360_mail_oldest_pending_seconds") > 0

        assert sorted(await sender.drain(uow)) == sorted([Outcome.REFUSED, Outcome.SENT, Outcome.SENT])
        await sender.sample_backlog(uow)

    assert value("hlm360_emails_total", kind="probe", outcome="sent") == 2
    assert value("hlm360_emails_total", kind="probe", outcome="refused") == 1
    assert value("hlm360_mail_pending_emails") == 0
    assert value("hlm360_mail_oldest_pending_seconds") == 0
    exposition = generate_latest(metrics.registry).decode()
    assert "@" not in exposition, "no addresses in metric labels"


async def test_a_poison_row_between_two_good_ones_is_given_up_and_the_round_goes_on(
    uow: UnitOfWorkFactory, settings: StackSettings, caplog: pytest.LogCaptureFixture
) -> None:
    started, service, metrics = time.time() - 1, Service(), ServiceMetrics("probe")
    sender = dataclasses.replace(service.sender(), metrics=metrics)
    first, poison, last = await queue(
        uow,
        addresses=[
            "probe-first@example.nhs.uk",
            "probe-poison\u2028@example.nhs.uk",
            "probe-last@example.nhs.uk",
        ],
    )
    caplog.set_level("INFO", logger="shared.mail_sender")

    assert await sender.drain(uow) == [Outcome.SENT, Outcome.UNSENDABLE, Outcome.SENT]
    assert await sender.drain(uow) == [], "the poison row is not tried again"

    given_up = await row(uow, poison.id)
    assert given_up is not None and given_up.sent_at is None and given_up.gave_up_at is not None
    assert (given_up.attempts, given_up.last_error) == (1, "could not compose: ValueError")
    assert service.sent == [first.id, last.id]
    counts = deliveries(settings.hlm360_mail_dir, [first.id, poison.id, last.id], since=started)
    assert counts == {first.id: 1, poison.id: 0, last.id: 1}
    assert metrics.registry.get_sample_value("hlm360_emails_total", {"kind": "probe", "outcome": "unsendable"}) == 1
    assert metrics.registry.get_sample_value("hlm360_emails_total", {"kind": "probe", "outcome": "sent"}) == 2
    assert metrics.registry.get_sample_value("hlm360_emails_total", {"kind": "probe", "outcome": "retry"}) == 0
    [logged] = [r for r in caplog.records if r.name == "shared.mail_sender" and r.levelname == "ERROR"]
    assert logged.__dict__["email_id"] == str(poison.id)
    assert logged.__dict__["reason"] == "could not compose: ValueError"
    assert "@" not in str(logged.__dict__) and "probe-poison" not in logged.getMessage()


async def test_a_database_outage_while_composing_leaves_the_row_to_be_retried(uow: UnitOfWorkFactory) -> None:
    service = Service()

    async def lose_the_connection(work: UnitOfWork, email: ProbeEmail) -> EmailMessage | NotNeeded:
        await work.session.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return await service.compose(work, email)

    [email] = await queue(uow)
    outage = dataclasses.replace(service.sender(), compose=lose_the_connection)
    with pytest.raises(Exception) as raised:
        await outage.drain(uow)
    assert "ValueError" not in repr(raised.value)

    waiting = await row(uow, email.id)
    assert waiting is not None and waiting.gave_up_at is None and waiting.sent_at is None
    assert await service.sender().drain(uow) == [Outcome.SENT]


class Crash(BaseException):
    """The process dies (SIGKILL) after the SMTP server took the email, before the commit."""


async def test_a_resend_after_a_crash_repeats_the_message_id_and_the_follow_up_event_id(
    uow: UnitOfWorkFactory, settings: StackSettings
) -> None:
    started, service = time.time() - 1, Service()
    announced: list[UUID] = []

    async def crash_after_sending(work: UnitOfWork, email: ProbeEmail) -> None:
        announced.append(follow_up_event_id(email, "ProbeSent"))
        if len(announced) == 1:
            raise Crash

    [email] = await queue(uow)
    crashing = dataclasses.replace(service.sender(), after_sent=crash_after_sending)
    with pytest.raises(Crash):
        await crashing.drain(uow)
    unsent = await row(uow, email.id)
    assert unsent is not None and unsent.sent_at is None and unsent.attempts == 0

    assert await crashing.drain(uow) == [Outcome.SENT]
    assert announced[0] == announced[1] == follow_up_event_id(unsent, "ProbeSent")
    stored = [
        p
        for p in settings.hlm360_mail_dir.glob("*.eml")
        if p.stat().st_mtime >= started and f"<{email.id}@hlm360.nhs.invalid>" in p.read_text(errors="replace")
    ]
    assert len(stored) == 2, "the crash made the email go out twice, both with its one Message-ID"


async def test_invitations_announces_a_sent_invitation_once_with_an_id_from_the_email(
    settings: StackSettings,
) -> None:
    from invitations.config import Settings
    from invitations.tables import OutgoingEmail
    from invitations.usecases.intake import open_cycle
    from invitations.usecases.mail import record_email_sent
    from shared.contracts.events import InvitationSent

    cycle = request()
    async with scratch_database(settings, "invitations_followup") as url:
        await asyncio.to_thread(upgrade, MIGRATIONS, url)
        engine = create_engine(url)
        try:
            sessions = session_factory(engine)
            async with UnitOfWork(sessions) as work:
                assert await open_cycle(work, cycle, settings=Settings(database_url=url, link_secret=LINK_SECRET))
                await work.commit()
            for calls in (2, 1):  # twice in one transaction, then again in another
                async with UnitOfWork(sessions) as work:
                    email = (
                        await work.session.execute(
                            select(OutgoingEmail)
                            .where(col(OutgoingEmail.kind) == "invitation")
                            .order_by(col(OutgoingEmail.id))
                            .limit(1)
                        )
                    ).scalar_one()
                    email.sent_at = email.sent_at or datetime.now(UTC)
                    for _ in range(calls):
                        await record_email_sent(work, email)
                    await work.commit()
            async with UnitOfWork(sessions) as work:
                announced = (
                    await work.session.execute(
                        select(col(OutboxMessage.event_id), col(OutboxMessage.payload)).where(
                            col(OutboxMessage.event_type) == "InvitationSent"
                        )
                    )
                ).all()
        finally:
            await engine.dispose()
    [(event_id, payload)] = announced
    assert event_id == follow_up_event_id(email, "InvitationSent")
    assert InvitationSent.model_validate_json(payload).rater_id == email.rater_id


@pytest.mark.parametrize("service", ["invitations", "reports", "scheduling"])
async def test_the_send_emails_query_is_served_by_the_partial_index_on_each_service(
    settings: StackSettings, service: str
) -> None:
    """Each service's migrations index the waiting emails, so the every-poll claim query reads only
    those (with sequential scans off, the plan must name the index)."""
    tables = importlib.import_module(f"{service}.tables")
    migrations = Path(importlib.import_module(service).__file__).resolve().parents[2] / "migrations"  # type: ignore[arg-type]
    async with scratch_database(settings, f"{service}_mailidx") as url:
        await asyncio.to_thread(upgrade, migrations, url)
        engine = create_engine(url)
        try:
            compiled = due_email_query(tables.OutgoingEmail, now=datetime.now(UTC)).compile(dialect=engine.dialect)
            async with engine.connect() as connection:
                await connection.exec_driver_sql("SET enable_seqscan = off")
                plan = await connection.exec_driver_sql(
                    f"EXPLAIN {compiled}", tuple(compiled.params[name] for name in compiled.positiontup or ())
                )
                text_plan = "\n".join(row[0] for row in plan)
        finally:
            await engine.dispose()
    assert "ix_outgoing_email_due" in text_plan, text_plan
