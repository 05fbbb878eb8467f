"""Composing emails: what each kind of email says (jinja2 templates, text + HTML), from a queued row
and the facts its use case looked up (usecases.mail); shared.mail_sender sends them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from uuid import UUID

from invitations import links
from invitations.config import Settings
from invitations.domain import AWAITING_CONFIRMATION, GROUP_TITLES, when
from invitations.tables import Cycle, OutgoingEmail, Rater
from shared.contracts.vocabulary import NOMINATED_GROUPS, RaterGroup
from shared.mail import email_templates, new_message
from shared.mail_outbox import NotNeeded

_templates = email_templates("invitations")

SUBJECTS = {
    "invitation": "Please give feedback for {participant}'s Healthcare Leadership Model 360",
    "invitation_self": "Your Healthcare Leadership Model 360 has started: please rate yourself",
    "approval_request": "Please approve the feedback list for {participant}'s Healthcare Leadership Model 360",
    "not_approved": "Your Healthcare Leadership Model 360 has not started",
    "confirm_request": "Confirm your Healthcare Leadership Model 360 request",
    "participant_link": "Your new link to your Healthcare Leadership Model 360",
    "reminder": "Reminder: your feedback is still needed",
    "thank_you": "Thank you for your feedback for {participant}",
    "cycle_closed": "Your Healthcare Leadership Model 360 has closed",
}
KIND_HEADER = "X-HLM360-Kind"
ROLE_PHRASES = {
    RaterGroup.LINE_MANAGER: "as their line manager",
    RaterGroup.PEER: "as a peer",
    RaterGroup.DIRECT_REPORT: "as someone who reports to them",
    RaterGroup.OTHER: "as a colleague who works with them",
}
ROLES = {
    RaterGroup.SELF: "your own rating",
    RaterGroup.LINE_MANAGER: "as their line manager",
    RaterGroup.PEER: "as a peer",
    RaterGroup.DIRECT_REPORT: "as someone who reports to them",
    RaterGroup.OTHER: "as a colleague",
}
CONFIDENTIALITY = {
    RaterGroup.LINE_MANAGER: "your ratings are shown as the line manager's view; comments are not attributed.",
    RaterGroup.PEER: "your answers are combined with others and never shown on their own or with your name.",
    RaterGroup.DIRECT_REPORT: "your answers are combined with others and never shown on their own or with your name.",
    RaterGroup.OTHER: "your answers are combined with others and never shown on their own or with your name.",
}
CLOSE_REASONS = {
    "all_responded": "because everyone responded",
    "deadline_passed": "because its deadline passed",
    "closed_early": "early, as you asked",
}
FINISHED = ("closed", "closing", "not_approved")


@dataclass
class EmailFacts:
    """What an email is composed from, as it is when the email is sent."""

    cycle: Cycle
    rater: Rater
    rater_count: int = 0  # an invitation to the participant: how many others were asked
    pending: Sequence[tuple[Rater, Cycle]] = ()  # a reminder: what the person still has to answer
    raters: Sequence[Rater] = field(default_factory=list)  # an approval request: the list to approve


def compose(
    *, email_id: UUID, template: str, sender: str, to: str, subject: str, context: dict[str, object]
) -> EmailMessage:
    message = new_message(email_id=email_id, sender=sender, to=to, subject=subject)
    message[KIND_HEADER] = template
    message.set_content(_templates.get_template(f"{template}.txt").render(**context))
    message.add_alternative(_templates.get_template(f"{template}.html").render(**context), subtype="html")
    return message


def build(email: OutgoingEmail, facts: EmailFacts, *, settings: Settings) -> EmailMessage | NotNeeded:
    """The message to send, or why it is no longer needed."""
    cycle, rater = facts.cycle, facts.rater
    participant = f"{cycle.given_name} {cycle.family_name}"
    context: dict[str, object] = {"rater_name": rater.name, "participant_name": participant}
    kind = email.kind
    found: str | NotNeeded | None = kind
    if kind == "invitation":
        found = _invitation(facts, context, settings=settings)
    elif kind == "reminder":
        found = _reminder(facts, context, settings=settings)
    elif kind == "approval_request":
        found = _approval_request(facts, context, settings=settings)
    elif kind == "confirm_request":
        found = _confirm_request(facts, context, settings=settings)
    elif kind == "participant_link":
        found = _participant_link(facts, context, settings=settings)
    elif kind == "not_approved":
        context["refunded"] = cycle.funding_method == "programme_credit"
    elif kind == "cycle_closed":
        _cycle_closed(email, context)
    if isinstance(found, NotNeeded):
        return found
    kind = found or kind
    subject = SUBJECTS[kind].format(participant=participant)
    return compose(
        email_id=email.id, template=kind, sender=settings.mail_from, to=rater.email, subject=subject, context=context
    )


def _invitation(facts: EmailFacts, context: dict[str, object], *, settings: Settings) -> str | NotNeeded:
    cycle, rater = facts.cycle, facts.rater
    if cycle.status in FINISHED or rater.status not in ("nominated", "invited"):
        return NotNeeded("the 360 closed or the rater no longer takes part")
    context["link"] = rater_link(settings, rater)
    context["deadline"] = when(cycle.deadline)
    group = RaterGroup(rater.group)
    if group is RaterGroup.SELF:
        context["dashboard_link"] = participant_link(settings, cycle.id)
        context["days"] = settings.participant_link_days
        context["rater_count"] = facts.rater_count
        return "invitation_self"
    context["role_phrase"] = ROLE_PHRASES[group]
    context["confidentiality"] = CONFIDENTIALITY[group]
    return "invitation"


def _reminder(facts: EmailFacts, context: dict[str, object], *, settings: Settings) -> NotNeeded | None:
    if not facts.pending:
        return NotNeeded("the person has nothing left to answer")
    context["items"] = [
        {
            "participant_name": "yourself"
            if RaterGroup(r.group) is RaterGroup.SELF
            else f"{c.given_name} {c.family_name}",
            "role": ROLES[RaterGroup(r.group)],
            "deadline": when(c.deadline),
            "link": rater_link(settings, r),
        }
        for r, c in facts.pending
    ]
    return None


def _approval_request(facts: EmailFacts, context: dict[str, object], *, settings: Settings) -> NotNeeded | None:
    if facts.cycle.status != "awaiting_approval":
        return NotNeeded("the list was already decided")
    raters = facts.raters
    context["groups"] = [
        (GROUP_TITLES[g], [r.name for r in raters if r.group == g.value])
        for g in NOMINATED_GROUPS
        if any(r.group == g.value for r in raters)
    ]
    context["approval_link"] = approval_link(settings, facts.cycle.id)
    context["days"] = settings.approval_link_days
    return None


def _confirm_request(facts: EmailFacts, context: dict[str, object], *, settings: Settings) -> NotNeeded | None:
    if facts.cycle.status != AWAITING_CONFIRMATION:
        return NotNeeded("the request was already confirmed")
    context["confirm_link"] = confirm_link(settings, facts.cycle.id)
    context["hours"] = f"{settings.confirmation_hours:g}"
    context["deadline"] = when(facts.cycle.deadline)
    return None


def _participant_link(facts: EmailFacts, context: dict[str, object], *, settings: Settings) -> NotNeeded | None:
    if facts.cycle.status == AWAITING_CONFIRMATION or RaterGroup(facts.rater.group) is not RaterGroup.SELF:
        return NotNeeded("the 360 has not started, or the recipient is not its participant")
    context["dashboard_link"] = participant_link(settings, facts.cycle.id)
    context["days"] = settings.participant_link_days
    return None


def _cycle_closed(email: OutgoingEmail, context: dict[str, object]) -> None:
    data = email.context or {}
    responses = {RaterGroup(g): int(n) for g, n in dict(data.get("responses", {})).items()}
    context["reason"] = CLOSE_REASONS.get(str(data.get("reason")), "")
    context["responses"] = [(GROUP_TITLES[g], responses[g]) for g in RaterGroup if g in responses]
    context["total"] = sum(n for g, n in responses.items() if g is not RaterGroup.SELF)


def participant_link(settings: Settings, cycle_id: UUID, *, now: datetime | None = None) -> str:
    """The participant's view of their 360, valid participant_link_days from `now` (docs/adr/0016)."""
    return _personal_link(
        settings, "p", links.PARTICIPANT, cycle_id, timedelta(days=settings.participant_link_days), now
    )


def approval_link(settings: Settings, cycle_id: UUID, *, now: datetime | None = None) -> str:
    """The line manager's approval page, valid approval_link_days from `now`."""
    return _personal_link(
        settings, "approve", links.APPROVAL, cycle_id, timedelta(days=settings.approval_link_days), now
    )


def confirm_link(settings: Settings, cycle_id: UUID, *, now: datetime | None = None) -> str:
    """The participant's confirmation of a 360 they asked for, valid confirmation_hours from `now`."""
    return _personal_link(
        settings, "confirm", links.CONFIRM, cycle_id, timedelta(hours=settings.confirmation_hours), now
    )


def _personal_link(
    settings: Settings, prefix: str, purpose: str, cycle_id: UUID, lifetime: timedelta, now: datetime | None
) -> str:
    expires_at = (now or datetime.now(UTC)) + lifetime
    token = links.purpose_token(settings.signing_keys(), purpose, cycle_id, expires_at=expires_at)
    return f"{settings.base_url}/{prefix}/{cycle_id}/{token}"


def rater_link(settings: Settings, rater: Rater) -> str:
    """The rater's personal ratings link. Its key must still be configured: whoever composes it
    re-keys the rater first if it is not (usecases.intake.keep_link_key)."""
    token = links.rater_token(settings.signing_keys(), rater.id, rater.link_key_id)
    if token is None:
        raise LookupError("the rater's link key is no longer configured; re-key the rater first")
    return f"{settings.ratings_base_url}/r/{token}"
