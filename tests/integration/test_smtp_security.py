"""Mail to a relay off this machine is protected: STARTTLS or implicit TLS against a real SMTP server
(aiosmtpd) with a certificate made for the test, the certificate verified, the login sent only over
TLS; and a database error's text never carries the values bound to its statement."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from uuid import uuid4

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from shared import mail
from shared.db import create_engine
from shared.mail import new_message
from shared.settings import MailSettings
from tests.config import StackSettings

USER, PASSWORD = "hlm360-relay", "a-relay-password-for-the-test"
SECRET_NAME = "Ada Lovelace-Byron"


@dataclass
class Relay:
    port: int
    ca_file: Path
    messages: list[bytes] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for `localhost` (and 127.0.0.1), made by openssl for this run."""
    folder = tmp_path_factory.mktemp("relay-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _relay(certificate: tuple[Path, Path], *, implicit: bool) -> Iterator[Relay]:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    relay = Relay(port=_free_port(), ca_file=cert)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            relay.messages.append(envelope.content)
            return "250 OK"

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (USER.encode(), PASSWORD.encode())
        if ok:
            relay.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)

    tls: dict[str, Any] = {"ssl_context": context} if implicit else {"tls_context": context, "require_starttls": True}
    # with implicit TLS every command is already encrypted: aiosmtpd only knows that of STARTTLS
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=relay.port, server_hostname="localhost",
        authenticator=authenticate, auth_require_tls=not implicit, auth_required=True, **tls,
    )  # fmt: skip
    controller.start()
    try:
        yield relay
    finally:
        controller.stop()


@pytest.fixture
def starttls_relay(certificate: tuple[Path, Path]) -> Iterator[Relay]:
    yield from _relay(certificate, implicit=False)


@pytest.fixture
def tls_relay(certificate: tuple[Path, Path]) -> Iterator[Relay]:
    yield from _relay(certificate, implicit=True)


def settings_for(relay: Relay, **overrides: Any) -> MailSettings:
    values: dict[str, Any] = {
        "smtp_host": "localhost",
        "smtp_port": relay.port,
        "smtp_security": "starttls",
        "smtp_username": USER,
        "smtp_password": PASSWORD,
        "smtp_ca_file": relay.ca_file,
        "smtp_timeout_seconds": 5,
    }
    return MailSettings(**{**values, **overrides})


def message() -> EmailMessage:
    email = new_message(
        email_id=uuid4(), sender="HLM 360 <no-reply@hlm360.example.nhs.uk>", to="jo@nhs.uk", subject="360"
    )
    email.set_content("hello")
    return email


async def test_starttls_with_login_delivers_over_a_verified_certificate(starttls_relay: Relay) -> None:
    await mail.send(message(), settings_for(starttls_relay))
    assert len(starttls_relay.messages) == 1 and starttls_relay.logins == [USER]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # it is TLS: implicit
async def test_implicit_tls_with_login_delivers(tls_relay: Relay) -> None:
    await mail.send(message(), settings_for(tls_relay, smtp_security="tls"))
    assert len(tls_relay.messages) == 1 and tls_relay.logins == [USER]


async def test_a_relay_whose_certificate_is_not_trusted_is_refused(starttls_relay: Relay) -> None:
    with pytest.raises((ssl.SSLError, aiosmtplib.SMTPException)):
        await mail.send(message(), settings_for(starttls_relay, smtp_ca_file=None))
    assert starttls_relay.messages == [] and starttls_relay.logins == []


async def test_a_wrong_password_is_a_refusal_not_a_delivery(starttls_relay: Relay) -> None:
    with pytest.raises(aiosmtplib.SMTPAuthenticationError):
        await mail.send(message(), settings_for(starttls_relay, smtp_password="not-the-password"))
    assert starttls_relay.messages == []


async def test_a_relay_that_requires_starttls_refuses_mail_in_clear(starttls_relay: Relay) -> None:
    with pytest.raises(aiosmtplib.SMTPException):
        await mail.send(
            message(), settings_for(starttls_relay, smtp_security="none", smtp_username=None, smtp_password=None)
        )
    assert starttls_relay.messages == []


def test_auto_is_clear_only_for_a_relay_on_this_machine() -> None:
    assert MailSettings(smtp_host="127.0.0.1").smtp_tls == "none"
    assert MailSettings(smtp_host="localhost").smtp_tls == "none"
    assert MailSettings(smtp_host="smtp.example.nhs.uk").smtp_tls == "starttls"
    assert MailSettings(smtp_host="smtp.example.nhs.uk", smtp_security="tls").smtp_tls == "tls"


def test_a_login_is_never_configured_in_clear_or_by_half() -> None:
    with pytest.raises(ValidationError, match="never sent in clear"):
        MailSettings(smtp_host="127.0.0.1", smtp_username=USER, smtp_password=PASSWORD)
    with pytest.raises(ValidationError, match="together"):
        MailSettings(smtp_host="smtp.example.nhs.uk", smtp_username=USER)


async def test_a_database_error_never_carries_the_bound_values() -> None:
    engine = create_engine(StackSettings().test_database_url.get_secret_value())  # type: ignore[call-arg]
    try:
        async with engine.connect() as connection:
            await connection.execute(text("CREATE TEMPORARY TABLE person (name text PRIMARY KEY)"))
            await connection.execute(text("INSERT INTO person VALUES (:name)"), {"name": SECRET_NAME})
            with pytest.raises(IntegrityError) as raised:
                await connection.execute(text("INSERT INTO person VALUES (:name)"), {"name": SECRET_NAME})
        assert SECRET_NAME not in str(raised.value)
        assert "hidden due to hide_parameters" in str(raised.value)
    finally:
        await engine.dispose()
