"""Background jobs: announce facilitators, keep seeded diaries open, retry cycles with nothing to
offer, send the mail outbox, remind before sessions, escalate unbooked sessions to regional leads."""

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from opentelemetry import trace

from scheduling import mail, usecases
from scheduling.config import Settings
from shared.service import ServiceRuntime
from shared.telemetry import ATTR_CYCLE_ID

log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)


def register(runtime: ServiceRuntime, settings: Settings) -> None:
    @runtime.every(settings.announce_facilitators_seconds, name="announce-facilitators")
    async def announce_facilitators(runtime: ServiceRuntime) -> None:
        """Publish the directory events of facilitators never announced (the seeded ones, once)."""
        async with runtime.uow() as uow:
            await usecases.announce_facilitators(uow, now=datetime.now(UTC))
            await uow.commit()

    if settings.seed_availability:

        @runtime.every(settings.availability_refresh_seconds, name="ensure-availability")
        async def ensure_availability(runtime: ServiceRuntime) -> None:
            """Top up the seeded facilitators' weekday slots for the coming weeks (idempotent)."""
            today = datetime.now(ZoneInfo(settings.timezone)).date()
            async with runtime.uow() as uow:
                await usecases.ensure_availability(uow, settings=settings, today=today)
                await uow.commit()

    @runtime.every(settings.retry_unscheduled_seconds, name="retry-unscheduled")
    async def retry_unscheduled(runtime: ServiceRuntime) -> None:
        """Offer times again to cycles that had nothing to offer, one transaction each."""
        round_started = datetime.now(UTC)
        offered = 0
        for _ in range(settings.retry_unscheduled_batch):
            async with runtime.uow() as uow:
                waiting = await usecases.claim_unscheduled(uow, attempted_before=round_started)
                if waiting is None:
                    break
                outcome = await usecases.offer_booking(uow, waiting, settings=settings, now=datetime.now(UTC))
                await uow.commit()
            offered += outcome is not usecases.Outcome.UNSCHEDULED
        if offered:
            log.info("unscheduled cycles offered on retry", extra={"offered": offered})

    @runtime.every(settings.mail_poll_seconds, name="send-emails")
    async def send_due_emails(runtime: ServiceRuntime) -> None:
        """Send queued emails one transaction each, so a crash resends at most the one in flight."""
        for _ in range(settings.mail_batch_size):
            async with runtime.uow() as uow:
                email = await usecases.claim_due_email(uow, now=datetime.now(UTC))
                if email is None:
                    return
                with _tracer.start_as_current_span("send email") as span:
                    if email.cycle_id:
                        span.set_attribute(ATTR_CYCLE_ID, str(email.cycle_id))
                    span.set_attribute("hlm360.email.kind", email.kind)
                    message = mail.compose(email_id=email.id, sender=settings.mail_from, to=email.to_address,
                                           subject=email.subject, body=email.body, ics=email.ics,
                                           ics_method=email.ics_method)
                    try:
                        await mail.send(message, host=settings.smtp_host, port=settings.smtp_port,
                                        timeout=settings.smtp_timeout_seconds)
                    except Exception as error:
                        usecases.mark_email_failed(uow, email, error=f"{type(error).__name__}: {error}",
                                                   now=datetime.now(UTC))
                        await uow.commit()
                        log.warning("email send failed; will retry",
                                    extra={"email_id": str(email.id), "attempts": email.attempts})
                        return
                    usecases.mark_email_sent(uow, email, now=datetime.now(UTC))
                    await uow.commit()
                log.info("email sent", extra={"email_id": str(email.id), "kind": email.kind})

    @runtime.every(settings.reminder_poll_seconds, name="send-reminders")
    async def send_reminders(runtime: ServiceRuntime) -> None:
        """Queue reminders for sessions starting soon."""
        async with runtime.uow() as uow:
            await usecases.send_reminders(uow, settings=settings, now=datetime.now(UTC))
            await uow.commit()

    @runtime.every(settings.escalation_poll_seconds, name="escalate-unbooked")
    async def escalate_unbooked(runtime: ServiceRuntime) -> None:
        """Tell regional leads about participants who have not booked in time."""
        async with runtime.uow() as uow:
            await usecases.escalate_unbooked(uow, settings=settings, now=datetime.now(UTC))
            await uow.commit()
