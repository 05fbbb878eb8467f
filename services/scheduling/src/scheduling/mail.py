"""Emails of the scheduling service: rendered from text templates when queued (mail outbox), sent
later by the send-emails job through real SMTP, with the calendar invitation attached."""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate
from uuid import UUID

import aiosmtplib
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

# Plain-text emails (.txt): not HTML, so not escaped.
_templates = Environment(
    loader=PackageLoader("scheduling", "templates/email"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)

SUBJECTS: dict[str, str] = {
    "booking_offer": "Choose a time for your Healthcare Leadership Model 360 feedback session",
    "booking_pending": "Your feedback session request has been sent to the facilitator",
    "booking_requested": "Please confirm a feedback session request",
    "booking_declined": "Please choose another time for your feedback session",
    "session_booked": "Feedback session booked: {when}",
    "session_rescheduled": "Feedback session moved: {when}",
    "session_cancelled": "Feedback session cancelled: {when}",
    "session_reminder": "Reminder: feedback session {when}",
    "escalation": "A participant has not booked their feedback session",
}


def render(kind: str, context: Mapping[str, object]) -> tuple[str, str]:
    """(subject, body) of an email kind."""
    subject = SUBJECTS[kind].format(**context)
    body = _templates.get_template(f"{kind}.txt").render(**context)
    return subject, body


def compose(
    *,
    email_id: UUID,
    sender: str,
    to: str,
    subject: str,
    body: str,
    ics: bytes | None = None,
    ics_method: str | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    # A stable Message-ID lets mail clients drop the duplicate if a crash makes us send twice.
    message["Message-ID"] = f"<{email_id}@hlm360.nhs.invalid>"
    message.set_content(body)
    if ics is not None:
        message.add_attachment(
            ics,
            maintype="text",
            subtype="calendar",
            filename="feedback-session.ics",
            params={"method": ics_method or "REQUEST", "charset": "utf-8"},
        )
    return message


async def send(message: EmailMessage, *, host: str, port: int, timeout: float) -> None:
    await aiosmtplib.send(message, hostname=host, port=port, timeout=timeout, start_tls=False, use_tls=False)
