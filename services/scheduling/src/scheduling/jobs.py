"""Background jobs: announce facilitators, keep the demo's diaries open (demo only), retry cycles
with nothing to offer, send the mail outbox, remind before sessions, remind participants to choose a
time, chase missing outcomes, lapse unconfirmed requests, escalate unbooked sessions to regional leads,
forget rate-limit counts no longer needed."""

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Protocol

from scheduling import demo_seed, emails
from scheduling.config import Settings
from scheduling.tables import OutgoingEmail
from scheduling.usecases import booking, directory, followups
from shared.db import UnitOfWork
from shared.mail_sender import register_send_emails
from shared.service import FORGET_COUNTS_SECONDS, ServiceRuntime, forget_expired_counts

log = logging.getLogger(__name__)


def register(runtime: ServiceRuntime, settings: Settings) -> None:
    @runtime.every(settings.announce_facilitators_seconds, name="announce-facilitators")
    async def announce_facilitators(runtime: ServiceRuntime) -> None:
        """Publish the directory events of facilitators never announced (a safety net: registering and
        the demo's seed announce at once)."""
        async with runtime.uow() as uow:
            await directory.announce_facilitators(uow, now=datetime.now(UTC))
            await uow.commit()

    if settings.seed_availability:

        @runtime.every(settings.availability_refresh_seconds, name="ensure-availability")
        async def ensure_availability(runtime: ServiceRuntime) -> None:
            """Top up the demo facilitators' weekday slots for the coming weeks (idempotent; demo only)."""
            async with runtime.uow() as uow:
                await demo_seed.top_up_availability(uow, settings=settings, now=datetime.now(UTC))
                await uow.commit()

    @runtime.every(settings.retry_unscheduled_seconds, name="retry-unscheduled")
    async def retry_unscheduled(runtime: ServiceRuntime) -> None:
        """Offer times again to cycles that had nothing to offer (and look again at booked ones flagged
        for the participant's management line), one transaction each."""
        round_started = datetime.now(UTC)
        offered = 0
        for _ in range(settings.retry_unscheduled_batch):
            async with runtime.uow() as uow:
                waiting = await booking.claim_unscheduled(uow, attempted_before=round_started)
                if waiting is None:
                    break
                outcome = await booking.offer_booking(uow, waiting, settings=settings, now=datetime.now(UTC))
                await uow.commit()
            offered += outcome in (booking.Outcome.OFFERED, booking.Outcome.ALREADY_BOOKED)
        if offered:
            log.info("unscheduled cycles offered on retry", extra={"offered": offered})

    async def compose(uow: UnitOfWork, email: OutgoingEmail) -> EmailMessage:
        return emails.message_of(email, sender=settings.mail_from)

    register_send_emails(runtime, OutgoingEmail, settings=settings, compose=compose, kinds=emails.SUBJECTS)

    # Jobs that are one use case in one transaction, at the time they run: (name, every, use case).
    # Each use case claims its rows with FOR UPDATE SKIP LOCKED, so several instances may run them.
    timed: list[tuple[str, float, TimedUseCase]] = [
        ("send-reminders", settings.reminder_poll_seconds, followups.send_reminders),  # sessions starting soon
        ("remind-unbooked", settings.remind_unbooked_seconds, followups.remind_unbooked),  # no time chosen yet
        ("chase-outcomes", settings.chase_outcomes_seconds, followups.chase_outcomes),  # ended, no outcome
        ("lapse-unconfirmed", settings.lapse_unconfirmed_seconds, followups.lapse_unconfirmed_requests),
        ("escalate-unbooked", settings.escalation_poll_seconds, followups.escalate_unbooked),  # tell the lead
    ]
    for name, seconds, use_case in timed:
        runtime.every(seconds, name=name)(_in_one_transaction(use_case, settings))
    runtime.every(FORGET_COUNTS_SECONDS, name="forget-expired-counts")(forget_expired_counts)


class TimedUseCase(Protocol):
    async def __call__(self, uow: UnitOfWork, *, settings: Settings, now: datetime) -> object: ...


def _in_one_transaction(use_case: TimedUseCase, settings: Settings) -> Callable[[ServiceRuntime], Awaitable[None]]:
    async def job(runtime: ServiceRuntime) -> None:
        async with runtime.uow() as uow:
            await use_case(uow, settings=settings, now=datetime.now(UTC))
            await uow.commit()

    return job
