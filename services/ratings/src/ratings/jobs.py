"""Background jobs: close cycles whose deadline has passed (one transaction per cycle), forget
self-assessments nobody finished, and rate-limit counts no longer needed."""

from datetime import UTC, datetime, timedelta

from ratings import usecases
from ratings.config import Settings
from shared.service import FORGET_COUNTS_SECONDS, ServiceRuntime, forget_expired_counts


def register(runtime: ServiceRuntime, settings: Settings) -> None:
    @runtime.every(settings.deadline_check_seconds, name="close-due-cycles")
    async def close_due_cycles(runtime: ServiceRuntime) -> None:
        """Close every open cycle past its deadline (a batch per run; the next run takes the rest)."""
        for _ in range(settings.close_batch_size):
            async with runtime.uow() as uow:
                closed = await usecases.close_next_due_cycle(uow, now=datetime.now(UTC))
                if closed is None:
                    return
                await uow.commit()

    @runtime.every(settings.draft_cleanup_seconds, name="delete-stale-self-assessments")
    async def delete_stale_self_assessments(runtime: ServiceRuntime) -> None:
        """Unfinished self-assessments are deleted after `self_assessment_draft_days` without a change."""
        async with runtime.uow() as uow:
            await usecases.delete_stale_self_assessments(
                uow, older_than=timedelta(days=settings.self_assessment_draft_days), now=datetime.now(UTC)
            )
            await uow.commit()

    runtime.every(FORGET_COUNTS_SECONDS, name="forget-expired-counts")(forget_expired_counts)
