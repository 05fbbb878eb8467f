"""What each kind of email says: builds the template context from the service's own tables."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlmodel import col

from invitations import mail, usecases
from invitations.config import Settings
from invitations.domain import link_token, purpose_token
from invitations.tables import Cycle, OutgoingEmail, Rater
from shared.contracts.vocabulary import NOMINATED_GROUPS, RaterGroup
from shared.db import UnitOfWork
from shared.mail_outbox import NotNeeded

LONDON = ZoneInfo("Europe/London")
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
GROUP_TITLES = {
    RaterGroup.SELF: "You",
    RaterGroup.LINE_MANAGER: "Line manager",
    RaterGroup.PEER: "Peers",
    RaterGroup.DIRECT_REPORT: "Direct reports",
    RaterGroup.OTHER: "Others",
}
FINISHED = ("closed", "closing", "not_approved")


def when(moment: datetime) -> str:
    local = moment.astimezone(LONDON)
    return local.strftime("%A %-d %B %Y at %-I:%M%p").replace("AM", "am").replace("PM", "pm") + " (UK time)"


def participant_link(settings: Settings, cycle_id: UUID) -> str:
    token = purpose_token(secret=_secret(settings), purpose="participant", subject=cycle_id)
    return f"{settings.base_url}/p/{cycle_id}/{token}"


def approval_link(settings: Settings, cycle_id: UUID) -> str:
    token = purpose_token(secret=_secret(settings), purpose="approval", subject=cycle_id)
    return f"{settings.base_url}/approve/{cycle_id}/{token}"


def rater_link(settings: Settings, rater: Rater) -> str:
    return f"{settings.ratings_base_url}/r/{link_token(secret=_secret(settings), rater_id=rater.id)}"


async def build(uow: UnitOfWork, email: OutgoingEmail, *, settings: Settings) -> EmailMessage | NotNeeded:
    """The message to send (composed from the current state), or why it is no longer needed."""
    cycle = await uow.session.get(Cycle, email.cycle_id)
    rater = await uow.session.get(Rater, email.rater_id) if email.rater_id else None
    if cycle is None or rater is None:
        return NotNeeded("its cycle or recipient is gone")
    participant = f"{cycle.given_name} {cycle.family_name}"
    group = RaterGroup(rater.group)
    kind = email.kind
    context: dict[str, object] = {"rater_name": rater.name, "participant_name": participant}
    if kind == "invitation":
        if cycle.status in FINISHED or rater.status not in ("nominated", "invited"):
            return NotNeeded("the 360 closed or the rater no longer takes part")
        context["link"] = rater_link(settings, rater)
        context["deadline"] = when(cycle.deadline)
        if group is RaterGroup.SELF:
            kind = "invitation_self"
            context["dashboard_link"] = participant_link(settings, cycle.id)
            context["rater_count"] = (
                await uow.session.execute(
                    select(func.count()).where(
                        col(Rater.cycle_id) == cycle.id, col(Rater.group) != RaterGroup.SELF.value
                    )
                )
            ).scalar_one()
        else:
            context["role_phrase"] = ROLE_PHRASES[group]
            context["confidentiality"] = CONFIDENTIALITY[group]
    elif kind == "reminder":
        pending = await usecases.pending_for_person(uow, rater.email)
        if not pending:
            return NotNeeded("the person has nothing left to answer")
        context["items"] = [
            {
                "participant_name": "yourself" if RaterGroup(r.group) is RaterGroup.SELF
                else f"{c.given_name} {c.family_name}",
                "role": ROLES[RaterGroup(r.group)],
                "deadline": when(c.deadline),
                "link": rater_link(settings, r),
            }
            for r, c in pending
        ]
    elif kind == "approval_request":
        if cycle.status != "awaiting_approval":
            return NotNeeded("the list was already decided")
        raters = (await uow.session.execute(select(Rater).where(col(Rater.cycle_id) == cycle.id))).scalars().all()
        context["groups"] = [
            (GROUP_TITLES[g], [r.name for r in raters if r.group == g.value])
            for g in NOMINATED_GROUPS if any(r.group == g.value for r in raters)
        ]
        context["approval_link"] = approval_link(settings, cycle.id)
    elif kind == "not_approved":
        context["refunded"] = cycle.funding_method == "programme_credit"
    elif kind == "cycle_closed":
        data = email.context or {}
        responses = {RaterGroup(g): int(n) for g, n in dict(data.get("responses", {})).items()}
        context["reason"] = CLOSE_REASONS.get(str(data.get("reason")), "")
        context["responses"] = [(GROUP_TITLES[g], responses[g]) for g in RaterGroup if g in responses]
        context["total"] = sum(n for g, n in responses.items() if g is not RaterGroup.SELF)
    subject = mail.SUBJECTS[kind].format(participant=participant)
    return mail.compose(
        email_id=email.id, template=kind, sender=settings.mail_from, to=rater.email, subject=subject, context=context
    )


def _secret(settings: Settings) -> bytes:
    return settings.link_secret.get_secret_value().encode()
