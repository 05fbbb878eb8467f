"""Kafka subscribers: parse the event, call one use case."""

from reports import usecases
from reports.config import Settings
from shared.contracts.events import CycleClosed, CycleOpened, RatingSubmitted
from shared.db import UnitOfWork
from shared.service import ServiceRuntime


def register(runtime: ServiceRuntime, settings: Settings) -> None:
    on = runtime.consumers.on

    @on(CycleOpened, name="record-cycle-opened")
    async def on_cycle_opened(event: CycleOpened, uow: UnitOfWork) -> None:
        """A cycle opened: keep the participant details its report needs."""
        await usecases.record_cycle_opened(uow, event, settings=settings)

    @on(RatingSubmitted, name="record-rating")
    async def on_rating_submitted(event: RatingSubmitted, uow: UnitOfWork) -> None:
        """A rater submitted: store the pseudonymous response."""
        await usecases.record_rating(uow, event, settings=settings)

    @on(CycleClosed, name="record-cycle-closed")
    async def on_cycle_closed(event: CycleClosed, uow: UnitOfWork) -> None:
        """A cycle closed: note the announced response counts."""
        await usecases.record_cycle_closed(uow, event, settings=settings)
