"""Kafka subscribers: parse the event, call one use case."""

from datetime import UTC, datetime

from ratings import usecases
from shared.contracts.events import (
    CycleCloseRequested,
    CycleDeadlineExtended,
    CycleOpened,
    RaterNominated,
    RaterWithdrawn,
)
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
        """A rater was nominated (perhaps replacing another): their link now leads to the questionnaire."""
        await usecases.record_rater_nominated(uow, event)

    @on(RaterWithdrawn, name="withdraw-rater")
    async def on_rater_withdrawn(event: RaterWithdrawn, uow: UnitOfWork) -> None:
        """A rater no longer counts: their link stops working."""
        await usecases.record_rater_withdrawn(uow, event, now=datetime.now(UTC))

    @on(CycleDeadlineExtended, name="extend-deadline")
    async def on_cycle_deadline_extended(event: CycleDeadlineExtended, uow: UnitOfWork) -> None:
        """The deadline of an open cycle moved."""
        await usecases.extend_deadline(uow, event)

    @on(CycleCloseRequested, name="close-on-request")
    async def on_cycle_close_requested(event: CycleCloseRequested, uow: UnitOfWork) -> None:
        """The participant or an admin closed the cycle early."""
        await usecases.close_on_request(uow, event, now=datetime.now(UTC))
