from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from uuid import uuid4

import aiosmtplib
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from invitations.config import Settings as InvitationsSettings
from reports.config import Settings as ReportsSettings
from scheduling.config import Settings as SchedulingSettings
from shared import mail
from shared.db import UnitOfWork
from shared.mail import email_templates, failure_summary, new_message, permanent_failure_code
from shared.mail_outbox import (
    NotNeeded,
    OutgoingEmailBase,
    backoff,
    mark_email_failed,
    mark_email_not_needed,
    mark_email_refused,
    mark_email_sent,
)
from shared.mail_sender import MailSender, Outcome
from shared.settings import MailSettings
from tests.unit.fakes import FakeUnitOfWork

ADDRESS = "jo.bloggs@nhs.uk"
SECRET = "s" * 40


def test_message_has_a_stable_message_id_so_a_resend_is_recognisable() -> None:
    email_id = uuid4()
    first = new_message(email_id=email_id, sender="a@nhs.uk", to="b@nhs.uk", subject="s")
    again = new_message(email_id=email_id, sender="a@nhs.uk", to="b@nhs.uk", subject="s")
    assert first["Message-ID"] == again["Message-ID"] == f"<{email_id}@hlm360.nhs.invalid>"


def test_only_5xx_replies_are_bounces() -> None:
    assert permanent_failure_code(aiosmtplib.SMTPResponseException(550, "no such user")) == 550
    assert permanent_failure_code(aiosmtplib.SMTPResponseException(451, "try later")) is None
    refused = aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(553, "bad", "x@nhs.uk")])
    assert permanent_failure_code(refused) == 553
    assert permanent_failure_code(ConnectionRefusedError()) is None


def test_html_email_templates_escape_and_text_ones_do_not() -> None:
    env = email_templates("invitations")
    assert env.autoescape("x.html") is True  # type: ignore[operator]
    assert env.autoescape("x.txt") is False  # type: ignore[operator]


def test_failure_summary_keeps_the_type_and_code_but_never_the_address() -> None:
    refused = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(550, f"<{ADDRESS}>: no such mailbox", ADDRESS)]
    )
    assert failure_summary(refused) == "SMTPRecipientsRefused 550"
    assert failure_summary(aiosmtplib.SMTPDataError(451, f"try later, {ADDRESS}")) == "SMTPDataError 451"
    assert failure_summary(ConnectionRefusedError(f"{ADDRESS}")) == "ConnectionRefusedError"


# --- the outbox rows ----------------------------------------------------------------------------


class ProbeEmail(OutgoingEmailBase):
    """A service's outbox row, without a table (the integration tests use a real one)."""

    to: str = ADDRESS


def test_backoff_doubles_and_is_capped_at_ten_minutes() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 9)] == [2, 4, 8, 512]
    assert backoff(10) == backoff(30) == timedelta(minutes=10)


def test_a_temporary_failure_is_retried_after_a_backoff_until_the_last_attempt() -> None:
    uow, email, now = FakeUnitOfWork(), ProbeEmail(kind="probe"), datetime(2027, 1, 4, 9, tzinfo=UTC)
    assert mark_email_failed(uow.typed, email, error="SMTPDataError 451", max_attempts=3, now=now) is False
    assert (email.attempts, email.next_attempt_at, email.gave_up_at) == (1, now + timedelta(seconds=2), None)
    assert mark_email_failed(uow.typed, email, error="SMTPDataError 451", max_attempts=3, now=now) is False
    assert mark_email_failed(uow.typed, email, error="SMTPDataError 451", max_attempts=3, now=now) is True
    assert (email.attempts, email.gave_up_at, email.last_error) == (3, now, "SMTPDataError 451")


def test_without_max_attempts_a_temporary_failure_is_retried_for_ever() -> None:
    uow, email = FakeUnitOfWork(), ProbeEmail(kind="probe")
    for _ in range(50):
        assert mark_email_failed(uow.typed, email, error="TimeoutError", max_attempts=None) is False
    assert email.gave_up_at is None and email.attempts == 50


def test_refused_and_not_needed_emails_are_given_up_and_sent_ones_counted() -> None:
    uow, now = FakeUnitOfWork(), datetime(2027, 1, 4, 9, tzinfo=UTC)
    refused, skipped, sent = ProbeEmail(kind="probe"), ProbeEmail(kind="probe"), ProbeEmail(kind="probe")
    mark_email_refused(uow.typed, refused, code=550, now=now)
    mark_email_not_needed(uow.typed, skipped, why="the 360 closed", now=now)
    mark_email_sent(uow.typed, sent, now=now)
    assert (refused.attempts, refused.gave_up_at, refused.last_error) == (1, now, "permanent SMTP failure 550")
    assert (skipped.attempts, skipped.gave_up_at, skipped.last_error) == (0, now, "not sent: the 360 closed")
    assert (sent.attempts, sent.sent_at, sent.gave_up_at) == (1, now, None)
    assert uow.session.added == [refused, skipped, sent]


# --- settings -----------------------------------------------------------------------------------


def test_each_service_reads_the_mail_settings_under_its_own_env_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    for prefix in ("INVITATIONS", "REPORTS", "SCHEDULING"):  # `make` exports the stack's env
        for name in ("SMTP_HOST", "SMTP_PORT", "MAIL_FROM", "MAIL_MAX_ATTEMPTS"):
            monkeypatch.delenv(f"{prefix}_{name}", raising=False)
    monkeypatch.setenv("INVITATIONS_SMTP_HOST", "smtp.invitations.example")
    monkeypatch.setenv("REPORTS_MAIL_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("SCHEDULING_SMTP_PORT", "2526")
    monkeypatch.setenv("SMTP_HOST", "unprefixed.example")
    common: dict[str, Any] = {"database_url": "postgresql+asyncpg://u:p4ss-w0rd@h/d", "link_secret": SECRET}
    invitations = InvitationsSettings(**common)
    reports = ReportsSettings(**common)
    scheduling = SchedulingSettings(**common)
    assert all(isinstance(s, MailSettings) for s in (invitations, reports, scheduling))
    assert (invitations.smtp_host, reports.smtp_host, scheduling.smtp_host) == (
        "smtp.invitations.example",
        "127.0.0.1",
        "127.0.0.1",
    )
    assert (invitations.mail_max_attempts, reports.mail_max_attempts, scheduling.mail_max_attempts) == (8, 3, None)
    assert scheduling.smtp_port == 2526 and scheduling.mail_from.startswith("HLM 360 feedback sessions")


def test_mail_settings_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="mail_batch_size"):
        MailSettings(mail_batch_size=0)
    with pytest.raises(ValueError, match="mail_max_attempts"):
        MailSettings(mail_max_attempts=0)


# --- the sender, with a fake unit of work and a fake SMTP server -------------------------------


class FakeSmtp:
    """Accepts every message, or fails each send with the next of `errors`."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.sent: list[EmailMessage] = []

    async def send(self, message: EmailMessage, settings: MailSettings) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(message)


class Recorder:
    """The service's callbacks: what was sent and what was refused for good."""

    def __init__(self) -> None:
        self.sent: list[ProbeEmail] = []
        self.refused: list[tuple[ProbeEmail, int]] = []

    async def compose(self, uow: UnitOfWork, email: ProbeEmail) -> EmailMessage | NotNeeded:
        if email.kind == "obsolete":
            return NotNeeded("the 360 closed")
        message = new_message(email_id=email.id, sender="HLM 360 <no-reply@nhs.uk>", to=email.to, subject="Hello Jo")
        message.set_content("Dear Jo Bloggs")
        return message

    async def after_sent(self, uow: UnitOfWork, email: ProbeEmail) -> None:
        self.sent.append(email)

    async def on_refused(self, uow: UnitOfWork, email: ProbeEmail, code: int) -> None:
        self.refused.append((email, code))


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


def sender_for(recorder: Recorder, smtp: FakeSmtp, monkeypatch: pytest.MonkeyPatch) -> MailSender[ProbeEmail]:
    monkeypatch.setattr(mail, "send", smtp.send)
    return MailSender(
        table=ProbeEmail,
        settings=MailSettings(mail_max_attempts=2),
        compose=recorder.compose,
        after_sent=recorder.after_sent,
        on_refused=recorder.on_refused,
    )


@pytest.mark.parametrize(
    ("kind", "errors", "outcome"),
    [
        ("probe", [], Outcome.SENT),
        ("obsolete", [], Outcome.NOT_NEEDED),
        ("probe", [aiosmtplib.SMTPDataError(451, f"try later {ADDRESS}")], Outcome.RETRY),
        (
            "probe",
            [aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no", ADDRESS)])],
            Outcome.REFUSED,
        ),
    ],
)
async def test_sender_records_each_outcome_in_one_commit_and_traces_only_ids_and_kind(
    kind: str,
    errors: list[Exception],
    outcome: Outcome,
    spans: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder, smtp, uow = Recorder(), FakeSmtp(*errors), FakeUnitOfWork()
    email = ProbeEmail(kind=kind)
    spans.clear()
    caplog.set_level("DEBUG", logger="shared.mail_sender")

    assert await sender_for(recorder, smtp, monkeypatch).send(uow.typed, email) is outcome

    assert uow.commits == 1
    assert (email.sent_at is not None) is (outcome is Outcome.SENT)
    assert (email.gave_up_at is not None) is (outcome in (Outcome.NOT_NEEDED, Outcome.REFUSED))
    assert recorder.sent == ([email] if outcome is Outcome.SENT else [])
    assert recorder.refused == ([(email, 550)] if outcome is Outcome.REFUSED else [])
    assert len(smtp.sent) == (1 if outcome is Outcome.SENT else 0)
    [span] = [s for s in spans.get_finished_spans() if s.name == "send email"]
    assert dict(span.attributes or {}) == {"hlm360.email.id": str(email.id), "hlm360.email.kind": kind}
    assert not span.events, "exceptions (their text may hold the address) are not recorded on the span"
    assert "@" not in (email.last_error or "")
    [record] = [r for r in caplog.records if r.name == "shared.mail_sender"]
    assert record.__dict__["email_id"] == str(email.id)
    assert "@" not in str(record.__dict__) and "Bloggs" not in str(record.__dict__)


async def test_the_last_temporary_failure_gives_up_without_calling_the_refusal_callback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder, smtp = Recorder(), FakeSmtp(TimeoutError(), TimeoutError())
    sender = sender_for(recorder, smtp, monkeypatch)
    email = ProbeEmail(kind="probe")
    assert await sender.send(FakeUnitOfWork().typed, email) is Outcome.RETRY
    assert await sender.send(FakeUnitOfWork().typed, email) is Outcome.GAVE_UP
    assert email.attempts == 2 and email.gave_up_at is not None and recorder.refused == []
