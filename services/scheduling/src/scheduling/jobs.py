"""Background jobs: announce facilitators, keep seeded diaries open, retry cycles with nothing to
offer, send the mail outbox, remind before sessions, escalate unbooked sessions to regional leads."""

import logging
from datetime import UTC, datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from scheduling import mail, usecases
from scheduling.config import Settings
from scheduling.tables import OutgoingEmail
from shared.db import UnitOfWork
from shared.mail_outbox import register_send_emails
from shared.service import ServiceRuntime

log = logging.getLogger(__name__)


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
        """Offer times again to cycles that had nothing to offer (and look again at booked ones flagged
        for the participant's management line), one transaction each."""
        round_started = datetime.now(UTC)
        offered = 0
        for _ in range(settings.retry_unscheduled_batch):
            async with runtime.uow() as uow:
                waiting = await usecases.claim_unscheduled(uow, attempted_before=round_started)
                if waiting is None:
                    break
                outcome = await usecases.offer_booking(uow, waiting, settings=settings, now=datetime.now(UTC))
                await uow.commit()
            offered += outcome in (usecases.Outcome.OFFERED, usecases.Outcome.ALREADY_BOOKED)
        if offered:
            log.info("unscheduled cycles offered on retry", extra={"offered": offered})

    async def compose(uow: UnitOfWork, email: OutgoingEmail) -> EmailMessage:
        return mail.message_of(email, sender=settings.mail_from)

    register_send_emails(runtime, OutgoingEmail, settings=settings, compose=compose)

    @runtime.every(settings.reminder_poll_seconds, name="send-reminders")
    async def send_reminders(runtime: ServiceRuntime) -> None:
        """Queue reminders for sessions starting soon."""
        async with runtime.uow() as uow:
            await usecases.send_reminders(uow, settings=settings, now=datetime.now(UTC))
            await uow.commit()

    @runtime.every(settings.remind_unbooked_seconds, name="remind-unbooked")
    async def remind_unbooked(runtime: ServiceRuntime) -> None:
        """Remind participants who have not chosen a session time."""
        async with runtime.uow() as uow:
            await usecases.remind_unbooked(uow, settings=settings, now=datetime.now(UTC))
            await uow.commit()

    @runtime.every(settings.chase_outcomes_seconds, name="chase-outcomes")
    async def chase_outcomes(runtime: ServiceRuntime) -> None:
        """Remind facilitators (then tell leads) about ended sessions with no outcome recorded."""
        async with runtime.uow() as uow:
            await usecases.chase_outcomes(uow, settings=settings, now=datetime.now(UTC))
            await uow.commit()

    @runtime.every(settings.lapse_unconfirmed_seconds, name="lapse-unconfirmed")
    async def lapse_unconfirmed(runtime: ServiceRuntime) -> None:
        """Withdraw session requests facilitators have not confirmed in time."""
        async with runtime.uow() as uow:
            await usecases.lapse_unconfirmed_requests(uow, settings=settings, now=datetime.now(UTC))
            await uow.commit()

    @runtime.every(settings.escalation_poll_seconds, name="escalate-unbooked")
    async def escalate_unbooked(runtime: ServiceRuntime) -> None:
        """Tell regional leads about participants who have not booked in time."""
        async with runtime.uow() as uow:
            await usecases.escalate_unbooked(uow, settings=settings, now=datetime.now(UTC))
            await uow.commit()
