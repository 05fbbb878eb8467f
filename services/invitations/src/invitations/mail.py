"""Composing emails: jinja2 templates (text + HTML); shared.mail_outbox sends them."""

from __future__ import annotations

from email.message import EmailMessage
from uuid import UUID

from shared.mail import email_templates, new_message

__all__ = ["KIND_HEADER", "SUBJECTS", "compose"]

_templates = email_templates("invitations")

SUBJECTS = {
    "invitation": "Please give feedback for {participant}'s Healthcare Leadership Model 360",
    "invitation_self": "Your Healthcare Leadership Model 360 has started: please rate yourself",
    "approval_request": "Please approve the feedback list for {participant}'s Healthcare Leadership Model 360",
    "not_approved": "Your Healthcare Leadership Model 360 has not started",
    "reminder": "Reminder: your feedback is still needed",
    "thank_you": "Thank you for your feedback for {participant}",
    "cycle_closed": "Your Healthcare Leadership Model 360 has closed",
}
KIND_HEADER = "X-HLM360-Kind"


def compose(
    *, email_id: UUID, template: str, sender: str, to: str, subject: str, context: dict[str, object]
) -> EmailMessage:
    message = new_message(email_id=email_id, sender=sender, to=to, subject=subject)
    message[KIND_HEADER] = template
    message.set_content(_templates.get_template(f"{template}.txt").render(**context))
    message.add_alternative(_templates.get_template(f"{template}.html").render(**context), subtype="html")
    return message

