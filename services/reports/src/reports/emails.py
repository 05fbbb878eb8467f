"""The reports service's emails (links only, never report content): subjects and templates,
composed from a queued row and the context `usecases.outgoing.email_context` looked up."""

from __future__ import annotations

from email.message import EmailMessage
from uuid import UUID

from shared.mail import email_templates, new_message

__all__ = ["SUBJECTS", "compose"]

_templates = email_templates("reports", "templates/email")

SUBJECTS = {
    "facilitator_link": "HLM 360 report ready for your feedback session with {participant}",
    "participant_released": "Your Healthcare Leadership Model 360 report is ready",
    "cohort_link": "HLM 360 cohort report for {programme}",
}


def compose(*, email_id: UUID, kind: str, sender: str, to: str, context: dict[str, object]) -> EmailMessage:
    """One email of `kind`: subject, plain text and HTML from the templates."""
    message = new_message(email_id=email_id, sender=sender, to=to, subject=SUBJECTS[kind].format(**context))
    message.set_content(_templates.get_template(f"{kind}.txt").render(**context))
    message.add_alternative(_templates.get_template(f"{kind}.html").render(**context), subtype="html")
    return message
