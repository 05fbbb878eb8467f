"""No row can block the mail outbox: what cannot be composed or serialised is given up with the
error's type as its reason, an outage is retried, and a failing follow-up step still records the
delivery. Events that follow an email take their id from the row."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from uuid import uuid4

import aiosmtplib
import pytest
from sqlalchemy import exc as sa_exc

from shared import mail
from shared.db import UnitOfWork
from shared.mail import may_pass, new_message, one_line
from shared.mail_outbox import NotNeeded, OutgoingEmailBase, follow_up_event_id
from shared.mail_sender import MailSender, Outcome, is_outage
from shared.settings import MailSettings
from tests.unit.fakes import FakeUnitOfWork

NAME = "Jo\u2028Bloggs"
ADDRESS = "jo.bloggs@nhs.uk"


class ProbeEmail(OutgoingEmailBase):
    to: str = ADDRESS


class Service:
    """Composes every row with the person's name in the subject; a step raises the error it is given."""

    def __init__(self, *, compose_error: BaseException | None = None, after_error: BaseException | None = None):
        self.compose_error = compose_error
        self.after_error = after_error
        self.sent: list[ProbeEmail] = []

    async def compose(self, uow: UnitOfWork, email: ProbeEmail) -> EmailMessage | NotNeeded:
        if self.compose_error is not None:
            raise self.compose_error
        message = new_message(
            email_id=email.id, sender="HLM 360 <no-reply@nhs.uk>", to=email.to, subject=f"Feedback for {NAME}"
        )
        message.set_content(f"Dear {NAME}")
        return message

    async def after_sent(self, uow: UnitOfWork, email: ProbeEmail) -> None:
        if self.after_error is not None:
            raise self.after_error
        self.sent.append(email)


class FakeSmtp:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.sent: list[bytes] = []

    async def send(self, message: EmailMessage, settings: MailSettings) -> None:
        if self.error is not None:
            raise self.error
        self.sent.append(message.as_bytes())


def sender(service: Service, smtp: FakeSmtp, monkeypatch: pytest.MonkeyPatch) -> MailSender[ProbeEmail]:
    monkeypatch.setattr(mail, "send", smtp.send)
    return MailSender(
        table=ProbeEmail,
        settings=MailSettings(mail_max_attempts=2),
        compose=service.compose,
        after_sent=service.after_sent,
    )


# --- headers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("separator", ["\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x1c", "\u202e"])
def test_a_subject_with_a_line_break_or_control_character_becomes_one_line(separator: str) -> None:
    message = new_message(email_id=uuid4(), sender="a@nhs.uk", to=ADDRESS, subject=f"Feedback for Jo{separator}Bloggs")
    assert message["Subject"] == "Feedback for Jo Bloggs"
    assert message.as_bytes().count(b"Subject:") == 1
    assert one_line("  a \u2028\u2029 b ") == "a b"


@pytest.mark.parametrize("to", [f"{ADDRESS}\u2028Bcc: x@nhs.uk", f"{ADDRESS}\r\nBcc: x@nhs.uk", f"jo\x00{ADDRESS}"])
def test_an_address_that_is_not_one_line_is_refused_without_quoting_it(to: str) -> None:
    with pytest.raises(ValueError, match="To address is not one line") as refused:
        new_message(email_id=uuid4(), sender="a@nhs.uk", to=to, subject="s")
    assert "@" not in str(refused.value)


def test_only_smtp_replies_and_network_failures_may_pass() -> None:
    assert may_pass(aiosmtplib.SMTPDataError(451, "later"))
    assert may_pass(aiosmtplib.SMTPServerDisconnected("gone"))
    assert may_pass(ConnectionRefusedError()) and may_pass(TimeoutError())
    assert not may_pass(ValueError("no recipients")) and not may_pass(UnicodeEncodeError("ascii", "é", 0, 1, "x"))


# --- what is an outage ---------------------------------------------------------------------------


class PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__("boom")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (ConnectionResetError(), True),
        (TimeoutError(), True),
        (sa_exc.OperationalError("SELECT 1", None, Exception()), True),
        (sa_exc.InterfaceError("SELECT 1", None, Exception()), True),
        (sa_exc.DBAPIError("SELECT 1", None, PgError("57P01")), True),  # admin shutdown
        (sa_exc.DBAPIError("SELECT 1", None, PgError("40P01")), True),  # deadlock
        (sa_exc.DBAPIError("SELECT 1", None, PgError("55P03")), True),  # lock not available
        (sa_exc.DBAPIError("SELECT 1", None, PgError("22001")), False),  # value too long: the row's data
        (sa_exc.IntegrityError("INSERT", None, PgError("23505")), False),
        (ValueError("Header values may not contain linefeed"), False),
        (KeyError("invitation_self"), False),
    ],
)
def test_outages_are_told_apart_from_rows_that_cannot_be_sent(error: BaseException, outage: bool) -> None:
    assert is_outage(error) is outage


# --- the sender ---------------------------------------------------------------------------------


async def test_a_row_that_cannot_be_composed_is_given_up_with_the_error_type_only(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    service, smtp, uow = Service(compose_error=ValueError(f"bad name {NAME} <{ADDRESS}>")), FakeSmtp(), FakeUnitOfWork()
    email = ProbeEmail(kind="probe")
    caplog.set_level("DEBUG", logger="shared.mail_sender")

    assert await sender(service, smtp, monkeypatch).send(uow.typed, email) is Outcome.UNSENDABLE

    assert (email.sent_at, email.attempts, email.last_error) == (None, 1, "could not compose: ValueError")
    assert email.gave_up_at is not None and uow.commits == 1 and smtp.sent == [] and service.sent == []
    [record] = [r for r in caplog.records if r.name == "shared.mail_sender"]
    assert record.levelname == "ERROR" and record.__dict__["email_id"] == str(email.id)
    assert record.__dict__["reason"] == "could not compose: ValueError"
    assert "@" not in str(record.__dict__) and "Bloggs" not in str(record.__dict__)


@pytest.mark.parametrize("error", [ConnectionResetError(), sa_exc.OperationalError("SELECT", None, Exception())])
async def test_an_outage_while_composing_is_retried_behind_the_others_and_never_given_up(
    error: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, uow, email = Service(compose_error=error), FakeUnitOfWork(), ProbeEmail(kind="probe")
    mailer = sender(service, FakeSmtp(), monkeypatch)
    created = email.next_attempt_at
    for _ in range(5):  # more than mail_max_attempts
        assert await mailer.send(uow.typed, email) is Outcome.RETRY
    assert email.gave_up_at is None and email.sent_at is None and email.attempts == 5
    assert email.next_attempt_at > created
    assert email.last_error == f"could not compose: {type(error).__name__}"


async def test_a_cancellation_while_composing_is_not_a_give_up(monkeypatch: pytest.MonkeyPatch) -> None:
    service, uow, email = Service(compose_error=asyncio.CancelledError()), FakeUnitOfWork(), ProbeEmail(kind="probe")
    with pytest.raises(asyncio.CancelledError):
        await sender(service, FakeSmtp(), monkeypatch).send(uow.typed, email)
    assert email.gave_up_at is None and email.attempts == 0 and uow.commits == 0


async def test_a_message_that_cannot_be_serialised_is_given_up(monkeypatch: pytest.MonkeyPatch) -> None:
    service, uow, email = Service(), FakeUnitOfWork(), ProbeEmail(kind="probe")
    smtp = FakeSmtp(ValueError(f"no recipients in {ADDRESS}"))
    assert await sender(service, smtp, monkeypatch).send(uow.typed, email) is Outcome.UNSENDABLE
    assert email.last_error == "could not send: ValueError" and email.gave_up_at is not None


async def test_a_subject_with_a_line_separator_is_sent_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    service, smtp, uow, email = Service(), FakeSmtp(), FakeUnitOfWork(), ProbeEmail(kind="probe")
    assert await sender(service, smtp, monkeypatch).send(uow.typed, email) is Outcome.SENT
    [raw] = smtp.sent
    assert b"Subject: Feedback for Jo Bloggs\n" in raw


async def test_a_failing_after_sent_step_still_records_the_delivery(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    service, smtp, uow = Service(after_error=AssertionError(f"{NAME}")), FakeSmtp(), FakeUnitOfWork()
    email = ProbeEmail(kind="probe")
    caplog.set_level("DEBUG", logger="shared.mail_sender")
    assert await sender(service, smtp, monkeypatch).send(uow.typed, email) is Outcome.SENT
    assert email.sent_at is not None and email.gave_up_at is None and uow.commits == 1
    assert email.last_error == "after sent: AssertionError" and len(smtp.sent) == 1
    assert "Bloggs" not in str([r.__dict__ for r in caplog.records])


async def test_an_outage_after_sending_fails_the_transaction_so_the_email_is_sent_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service = Service(after_error=sa_exc.OperationalError("UPDATE", None, Exception()))
    uow, email = FakeUnitOfWork(), ProbeEmail(kind="probe")
    with pytest.raises(sa_exc.OperationalError):
        await sender(service, FakeSmtp(), monkeypatch).send(uow.typed, email)
    assert uow.commits == 0


def test_an_event_that_follows_an_email_has_the_same_id_for_every_send() -> None:
    email = ProbeEmail(kind="invitation")
    assert follow_up_event_id(email, "InvitationSent") == follow_up_event_id(email, "InvitationSent")
    assert follow_up_event_id(email, "InvitationSent") != follow_up_event_id(email, "RaterWithdrawn")
    assert follow_up_event_id(email, "InvitationSent") != follow_up_event_id(
        ProbeEmail(kind="invitation"), "InvitationSent"
    )
