"""Composing and sending emails: jinja2 templates (text + HTML) and real SMTP."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate
from uuid import UUID

import aiosmtplib
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

_templates = Environment(
    loader=PackageLoader("invitations", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

SUBJECTS = {
    "invitation": "Please give feedback for {participant}'s Healthcare Leadership Model 360",
    "invitation_self": "Your Healthcare Leadership Model 360 has started: please rate yourself",
    "approval_request": "Please approve the feedback list for {participant}'s Healthcare Leadership Model 360",
    "not_approved": "Your Healthcare Leadership Model 360 has not started",
    "reminder": "Reminder: your feedback is still needed",
    "thank_you": "Thank you for your feedback for {participant}",
    "cycle_closed": "Your Healthcare Leadership Model 360 has closed",
    "report_ready": "Your Healthcare Leadership Model 360 report is ready",
}
KIND_HEADER = "X-HLM360-Kind"


def compose(
    *, email_id: UUID, template: str, sender: str, to: str, subject: str, context: dict[str, object]
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    # A stable Message-ID lets mail clients drop the duplicate if a crash makes us send twice.
    message["Message-ID"] = f"<{email_id}@hlm360.nhs.invalid>"
    message[KIND_HEADER] = template
    message.set_content(_templates.get_template(f"{template}.txt").render(**context))
    message.add_alternative(_templates.get_template(f"{template}.html").render(**context), subtype="html")
    return message


async def send(message: EmailMessage, *, host: str, port: int, timeout: float) -> None:
    await aiosmtplib.send(message, hostname=host, port=port, timeout=timeout, start_tls=False, use_tls=False)


def permanent_failure_code(error: BaseException) -> int | None:
    """The SMTP reply code if the server refused for good (5xx: bounce), else None (retry later)."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in error.recipients]
        return codes[0] if codes and all(500 <= c < 600 for c in codes) else None
    if isinstance(error, aiosmtplib.SMTPResponseException) and 500 <= error.code < 600:
        return error.code
    return None
