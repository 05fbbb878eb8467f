"""Composing emails: what each kind says (jinja2 templates, text + HTML); shared.mail_sender sends them."""

from __future__ import annotations

from email.message import EmailMessage
from uuid import UUID

from shared.mail import email_templates, new_message

_templates = email_templates("observations", "templates/email")

SUBJECTS = {
    "sign_in": "Your link to sign in to HLM Observations",
    "sign_up": "Your link to create your HLM Observations account",
}
KIND_HEADER = "X-HLM360-Kind"


def compose(*, email_id: UUID, kind: str, sender: str, to: str, context: dict[str, object]) -> EmailMessage:
    message = new_message(email_id=email_id, sender=sender, to=to, subject=SUBJECTS[kind])
    message[KIND_HEADER] = kind
    message.set_content(_templates.get_template(f"{kind}.txt").render(**context))
    message.add_alternative(_templates.get_template(f"{kind}.html").render(**context), subtype="html")
    return message
