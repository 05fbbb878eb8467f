"""Background jobs: the mail sender drains the mail outbox through real SMTP; the reminder
planner queues reminders as deadlines approach."""

import asyncio
import logging

from opentelemetry import trace

from invitations import emails, mail, usecases
from invitations.config import Settings
from invitations.tables import Cycle, OutgoingEmail
from shared.db import UnitOfWork
from shared.service import ServiceRuntime
from shared.telemetry import ATTR_CYCLE_ID

log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)


def register(runtime: ServiceRuntime, settings: Settings) -> None:
    @runtime.every(settings.mail_poll_seconds, name="send-emails")
    async def send_due_emails(runtime: ServiceRuntime) -> None:
        """Send queued emails one transaction each, so a crash resends at most the one in flight."""
        for _ in range(settings.mail_batch_size):
            _stop_if_cancelled()
            async with runtime.uow() as uow:
                claimed = await usecases.claim_due_emails(uow, limit=1)
                if not claimed:
                    break
                await _send_one(settings, uow, claimed[0])
        _stop_if_cancelled()

    @runtime.every(settings.reminder_poll_seconds, name="plan-reminders")
    async def plan_reminders(runtime: ServiceRuntime) -> None:
        """Queue the reminders whose time has come (state in PostgreSQL, so restarts resume)."""
        async with runtime.uow() as uow:
            await usecases.plan_reminders(uow, settings=settings)
            await uow.commit()
        _stop_if_cancelled()


def _stop_if_cancelled() -> None:
    """SMTP and database clients may turn a cancellation into their own error while the service
    stops; without this the job would go back to sleep and shutdown would wait for ever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def _send_one(settings: Settings, uow: UnitOfWork, email: OutgoingEmail) -> None:
    """Compose, send through SMTP, and record the outcome in the caller's transaction."""
    with _tracer.start_as_current_span("send email") as span:
        span.set_attribute(ATTR_CYCLE_ID, str(email.cycle_id))
        span.set_attribute("hlm360.email.kind", email.kind)
        message = await emails.build(uow, email, settings=settings)
        if isinstance(message, str):
            usecases.mark_email_not_needed(uow, email, why=message)
            await uow.commit()
            log.info("email not needed", extra={"email_id": str(email.id), "kind": email.kind})
            return
        try:
            await mail.send(
                message, host=settings.smtp_host, port=settings.smtp_port, timeout=settings.smtp_timeout_seconds
            )
        except Exception as error:
            code = mail.permanent_failure_code(error)
            if code is not None:
                await usecases.record_bounce(uow, email, code=code)
                await uow.commit()
                log.warning("email bounced", extra={"email_id": str(email.id), "kind": email.kind, "code": code})
                return
            # the error text may echo the address: keep only its type in logs
            usecases.mark_email_failed(
                uow, email, error=type(error).__name__, max_attempts=settings.mail_max_attempts
            )
            await uow.commit()
            log.warning(
                "email send failed; will retry",
                extra={"email_id": str(email.id), "attempts": email.attempts, "error": type(error).__name__},
            )
            return
        cycle = await uow.session.get(Cycle, email.cycle_id)
        await usecases.mark_email_sent(uow, email, correlation_id=cycle.correlation_id or cycle.id if cycle else None)
        await uow.commit()
        log.info("email sent", extra={"email_id": str(email.id), "kind": email.kind})
