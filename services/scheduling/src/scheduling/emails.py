"""Emails of the scheduling service: rendered from text templates when queued (mail outbox), sent
later by the shared send-emails job through real SMTP, with the calendar invitation attached."""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from uuid import UUID

from scheduling.tables import OutgoingEmail
from shared.mail import email_templates, new_message

__all__ = ["SUBJECTS", "compose", "message_of", "render"]

# Plain-text emails (.txt): not HTML, so not escaped.
_templates = email_templates("scheduling", "templates/email", keep_trailing_newline=True)

SUBJECTS: dict[str, str] = {
    "booking_offer": "Choose a time for your Healthcare Leadership Model 360 feedback session",
    "booking_pending": "Your feedback session request has been sent to the facilitator",
    "booking_requested": "Please confirm a feedback session request",
    "booking_declined": "Please choose another time for your feedback session",
    "booking_reminder": "Reminder: choose a time for your HLM 360 feedback session",
    "booking_link": "Your new link to your HLM 360 feedback session",
    "booking_lapsed": "Please choose another time for your feedback session",
    "request_lapsed": "A feedback session request was not confirmed in time",
    "session_booked": "Feedback session booked: {when}",
    "session_rescheduled": "Feedback session moved: {when}",
    "session_cancelled": "Feedback session cancelled: {when}",
    "session_reminder": "Reminder: feedback session {when}",
    "escalation": "A participant has not booked their feedback session",
    "outcome_reminder": "Please record the outcome of the feedback session on {when}",
    "outcome_escalation": "A feedback session outcome has not been recorded",
    "new_link": "Your new personal link for HLM 360 feedback sessions",
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
    message = new_message(email_id=email_id, sender=sender, to=to, subject=subject)
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


def message_of(email: OutgoingEmail, *, sender: str) -> EmailMessage:
    """The message of a queued email, as it was rendered when queued."""
    return compose(
        email_id=email.id,
        sender=sender,
        to=email.to_address,
        subject=email.subject,
        body=email.body,
        ics=email.ics,
        ics_method=email.ics_method,
    )
