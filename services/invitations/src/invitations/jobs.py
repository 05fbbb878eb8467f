"""Background jobs: the mail sender drains the mail outbox through real SMTP."""

import logging

from opentelemetry import trace
from sqlalchemy import func, select
from sqlmodel import col

from invitations import mail, usecases
from invitations.config import Settings
from invitations.domain import link_token
from invitations.tables import Cycle, OutgoingEmail, Rater
from shared.contracts.vocabulary import RaterGroup
from shared.db import UnitOfWork
from shared.service import ServiceRuntime
from shared.telemetry import ATTR_CYCLE_ID

log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

ROLE_PHRASES = {
    RaterGroup.LINE_MANAGER: "as their line manager",
    RaterGroup.PEER: "as a peer",
    RaterGroup.DIRECT_REPORT: "as someone who reports to them",
    RaterGroup.OTHER: "as a colleague who works with them",
}
CONFIDENTIALITY = {
    RaterGroup.LINE_MANAGER: "your ratings are shown as the line manager's view; comments are not attributed.",
    RaterGroup.PEER: "your answers are combined with others and never shown on their own or with your name.",
    RaterGroup.DIRECT_REPORT: "your answers are combined with others and never shown on their own or with your name.",
    RaterGroup.OTHER: "your answers are combined with others and never shown on their own or with your name.",
}


def register(runtime: ServiceRuntime, settings: Settings) -> None:
    @runtime.every(settings.mail_poll_seconds, name="send-emails")
    async def send_due_emails(runtime: ServiceRuntime) -> None:
        """Send queued emails one transaction each, so a crash resends at most the one in flight."""
        for _ in range(settings.mail_batch_size):
            async with runtime.uow() as uow:
                claimed = await usecases.claim_due_emails(uow, limit=1)
                if not claimed:
                    return
                email = claimed[0]
                await _send_one(settings, uow, email)


async def _send_one(settings: Settings, uow: UnitOfWork, email: OutgoingEmail) -> None:
    """Compose, send through SMTP, and record the outcome in the caller's transaction."""
    with _tracer.start_as_current_span("send email") as span:
        span.set_attribute(ATTR_CYCLE_ID, str(email.cycle_id))
        span.set_attribute("hlm360.email.kind", email.kind)
        cycle = await uow.session.get(Cycle, email.cycle_id)
        rater = await uow.session.get(Rater, email.rater_id) if email.rater_id else None
        assert cycle is not None and rater is not None
        group = RaterGroup(rater.group)
        token = link_token(secret=settings.link_secret.get_secret_value().encode(), rater_id=rater.id)
        rater_count = (
            await uow.session.execute(select(func.count()).where(col(Rater.cycle_id) == cycle.id))
        ).scalar_one()
        participant = f"{cycle.given_name} {cycle.family_name}"
        is_self = group is RaterGroup.SELF
        message = mail.compose(
            email_id=email.id,
            template="invitation_self" if is_self else "invitation",
            sender=settings.mail_from,
            to=rater.email,
            subject=mail.SUBJECTS["invitation_self" if is_self else "invitation"].format(
                participant=participant
            ),
            context={
                "rater_name": rater.name,
                "participant_name": participant,
                "role_phrase": ROLE_PHRASES.get(group, ""),
                "confidentiality": CONFIDENTIALITY.get(group, ""),
                "link": f"{settings.ratings_base_url}/r/{token}",
                "deadline": cycle.deadline.strftime("%A %d %B %Y at %H:%M UTC"),
                "rater_count": rater_count - 1,
            },
        )
        try:
            await mail.send(
                message,
                host=settings.smtp_host,
                port=settings.smtp_port,
                timeout=settings.smtp_timeout_seconds,
            )
        except Exception as error:
            usecases.mark_email_failed(uow, email, error=f"{type(error).__name__}: {error}")
            await uow.commit()
            log.warning(
                "email send failed; will retry",
                extra={"email_id": str(email.id), "attempts": email.attempts},
            )
            return
        await usecases.mark_email_sent(uow, email, correlation_id=cycle.id)
        await uow.commit()
        log.info("email sent", extra={"email_id": str(email.id), "kind": email.kind})
