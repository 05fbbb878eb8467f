"""Background jobs: keep seeded facilitators' diaries open, and retry cycles left unscheduled."""

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from scheduling import usecases
from scheduling.config import Settings
from shared.service import ServiceRuntime

log = logging.getLogger(__name__)


def register(runtime: ServiceRuntime, settings: Settings) -> None:
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
        """Try again to book cycles that found no facilitator or slot, one transaction each."""
        round_started = datetime.now(UTC)
        booked = 0
        for _ in range(settings.retry_unscheduled_batch):
            async with runtime.uow() as uow:
                waiting = await usecases.claim_unscheduled(uow, attempted_before=round_started)
                if waiting is None:
                    break
                outcome = await usecases.book_feedback_session(
                    uow, usecases.BookingRequest.from_unscheduled(waiting), settings=settings
                )
                await uow.commit()
            booked += outcome is not usecases.Outcome.UNSCHEDULED
        if booked:
            log.info("unscheduled cycles booked on retry", extra={"booked": booked})
