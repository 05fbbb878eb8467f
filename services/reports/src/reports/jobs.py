"""Background jobs: the mail sender drains the mail outbox through real SMTP."""

from __future__ import annotations

import logging

from opentelemetry import trace
from sqlalchemy import select
from sqlmodel import col

from reports import mail, usecases
from reports.config import Settings
from reports.tables import CohortSnapshot, Cycle, Facilitator, FeedbackSession, OutgoingEmail, Report
from shared.db import UnitOfWork
from shared.service import ServiceRuntime

log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)


def register(runtime: ServiceRuntime, settings: Settings) -> None:
    @runtime.every(settings.mail_poll_seconds, name="send-emails")
    async def send_due_emails(runtime: ServiceRuntime) -> None:
        """Send queued emails one transaction each, so a crash resends at most the one in flight."""
        for _ in range(settings.mail_batch_size):
            async with runtime.uow() as uow:
                claimed = await usecases.claim_due_emails(uow, limit=1, max_attempts=settings.mail_max_attempts)
                if not claimed:
                    return
                await _send_one(settings, uow, claimed[0])


def _when(moment: object) -> str:
    return moment.strftime("%A %d %B %Y at %H:%M UTC") if hasattr(moment, "strftime") else ""


async def _context(uow: UnitOfWork, email: OutgoingEmail, *, settings: Settings) -> dict[str, object]:
    context: dict[str, object] = {
        "link": usecases.link_for(email, settings=settings),
        "expires": _when(email.link_expires_at),
    }
    if email.kind == "cohort_link":
        snapshot = await uow.session.get(CohortSnapshot, email.subject_id)
        context["programme"] = snapshot.programme if snapshot else ""
        return context
    report = await uow.session.get(Report, email.subject_id)
    cycle = await uow.session.get(Cycle, report.cycle_id) if report else None
    context["participant"] = (cycle.participant_name if cycle else None) or "the participant"
    if email.kind == "facilitator_link":
        facilitator = await uow.session.get(Facilitator, email.holder_id) if email.holder_id else None
        context["facilitator_name"] = facilitator.name if facilitator else "colleague"
        session = (
            await uow.session.execute(
                select(FeedbackSession)
                .where(
                    col(FeedbackSession.cycle_id) == (cycle.id if cycle else None),
                    col(FeedbackSession.facilitator_id) == email.holder_id,
                )
                .order_by(col(FeedbackSession.starts_at).desc())
            )
        ).scalars().first()
        context["session"] = _when(session.starts_at) if session else "the booked date"
    return context


async def _send_one(settings: Settings, uow: UnitOfWork, email: OutgoingEmail) -> None:
    """Compose, send through SMTP, and record the outcome in the caller's transaction."""
    with _tracer.start_as_current_span("send email") as span:
        span.set_attribute("hlm360.email.kind", email.kind)
        span.set_attribute("hlm360.email.id", str(email.id))
        message = mail.compose(
            email_id=email.id,
            kind=email.kind,
            sender=settings.mail_from,
            to=email.recipient,
            context=await _context(uow, email, settings=settings),
        )
        try:
            await mail.send(
                message, host=settings.smtp_host, port=settings.smtp_port, timeout=settings.smtp_timeout_seconds
            )
        except Exception as error:
            usecases.mark_email_failed(uow, email, error=type(error).__name__)
            await uow.commit()
            log.warning("email send failed; will retry", extra={"email_id": str(email.id), "attempts": email.attempts})
            return
        usecases.mark_email_sent(uow, email)
        await uow.commit()
        log.info("email sent", extra={"email_id": str(email.id), "kind": email.kind})
