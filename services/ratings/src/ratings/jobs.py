"""Background jobs: close cycles whose deadline has passed, one transaction per cycle."""

from datetime import UTC, datetime

from ratings import usecases
from ratings.config import Settings
from shared.service import ServiceRuntime


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
