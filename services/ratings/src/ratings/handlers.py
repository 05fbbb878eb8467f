"""Kafka subscribers: parse the event, call one use case."""

from ratings import usecases
from shared.contracts.events import CycleOpened, RaterNominated
from shared.db import UnitOfWork
from shared.service import ServiceRuntime


def register(runtime: ServiceRuntime) -> None:
    on = runtime.consumers.on

    @on(CycleOpened, name="record-cycle")
    async def on_cycle_opened(event: CycleOpened, uow: UnitOfWork) -> None:
        """A cycle opened: it now takes responses until its deadline."""
        await usecases.record_cycle_opened(uow, event)

    @on(RaterNominated, name="record-rater")
    async def on_rater_nominated(event: RaterNominated, uow: UnitOfWork) -> None:
        """A rater was nominated: their link now leads to the questionnaire."""
        await usecases.record_rater_nominated(uow, event)
