"""Email plumbing shared by the services that send mail (each keeps its own templates; the mail
outbox they all use is `shared.mail_outbox`, sent by `shared.mail_sender`): template environments,
message headers, real SMTP delivery and what an SMTP failure means."""

from __future__ import annotations

import re
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from uuid import UUID

import aiosmtplib
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from shared.settings import MailSettings


def email_templates(package: str, folder: str = "templates", *, keep_trailing_newline: bool = False) -> Environment:
    """`.txt` templates are plain text (not escaped); `.html` ones are autoescaped."""
    return Environment(
        loader=PackageLoader(package, folder),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=keep_trailing_newline,
    )


# What shared.contracts.text refuses in one-line text: controls, line and paragraph separators,
# bidirectional overrides. The email package refuses a header value that str.splitlines() splits.
_NOT_IN_A_HEADER = re.compile(r"[\x00-\x1F\x7F-\x9F\u2028\u2029\u202A-\u202E\u2066-\u2069]")


def one_line(text: str) -> str:
    """`text` fit for a header: each control, line-break or bidi character becomes one space."""
    return " ".join(_NOT_IN_A_HEADER.sub(" ", text).split())


def new_message(*, email_id: UUID, sender: str, to: str, subject: str) -> EmailMessage:
    """A subject is display text, so a line break in it (from a name) becomes a space. An address
    with one raises ValueError, whose text names no address (the mail outbox gives the row up):
    changing an address could mail someone else."""
    for header, address in (("From", sender), ("To", to)):
        if _NOT_IN_A_HEADER.search(address):
            raise ValueError(f"the {header} address is not one line of text")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = one_line(subject)
    message["Date"] = formatdate(localtime=False)
    # A stable Message-ID lets mail clients drop the duplicate if a crash makes us send twice.
    message["Message-ID"] = f"<{email_id}@hlm360.nhs.invalid>"
    return message


async def send(message: EmailMessage, settings: MailSettings) -> None:
    """Hand the message to the relay, over TLS unless the relay is on this machine (`smtp_tls`); the
    relay's certificate is always verified, and a login only ever happens over TLS."""
    tls = settings.smtp_tls
    context = ssl.create_default_context(cafile=settings.smtp_ca_file) if tls != "none" else None
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        timeout=settings.smtp_timeout_seconds,
        use_tls=tls == "tls",
        start_tls=tls == "starttls",
        tls_context=context,
        username=settings.smtp_username,
        password=password,
    )


def permanent_failure_code(error: BaseException) -> int | None:
    """The SMTP reply code if the server refused for good (5xx: bounce), else None (retry later)."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in error.recipients]
        return codes[0] if codes and all(500 <= c < 600 for c in codes) else None
    if isinstance(error, aiosmtplib.SMTPResponseException) and 500 <= error.code < 600:
        return error.code
    return None


def may_pass(error: BaseException) -> bool:
    """True for an SMTP reply or a network failure; anything else raised by `send` (e.g. a message
    that does not serialise, or has no recipient) will fail the same way every time."""
    return isinstance(error, (aiosmtplib.SMTPException, OSError, TimeoutError))


def failure_summary(error: BaseException) -> str:
    """What may be stored or logged about a failed send: the error type and SMTP reply code only,
    because the server's reply text can echo the recipient's address."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused) and error.recipients:
        return f"{type(error).__name__} {error.recipients[0].code}"
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return f"{type(error).__name__} {error.code}"
    return type(error).__name__
