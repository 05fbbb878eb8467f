"""Composing and sending the reports service's emails (links only, never report content)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate
from uuid import UUID

import aiosmtplib
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

_templates = Environment(
    loader=PackageLoader("reports", "templates/email"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

SUBJECTS = {
    "facilitator_link": "HLM 360 report ready for your feedback session with {participant}",
    "participant_released": "Your Healthcare Leadership Model 360 report is ready",
    "cohort_link": "HLM 360 cohort report for {programme}",
}


def compose(*, email_id: UUID, kind: str, sender: str, to: str, context: dict[str, object]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = SUBJECTS[kind].format(**context)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = f"<{email_id}@hlm360.nhs.invalid>"
    message.set_content(_templates.get_template(f"{kind}.txt").render(**context))
    message.add_alternative(_templates.get_template(f"{kind}.html").render(**context), subtype="html")
    return message


async def send(message: EmailMessage, *, host: str, port: int, timeout: float) -> None:
    await aiosmtplib.send(message, hostname=host, port=port, timeout=timeout, start_tls=False, use_tls=False)
