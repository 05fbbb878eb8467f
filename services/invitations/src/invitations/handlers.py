"""Kafka subscribers: parse the event, call one use case."""

from invitations import usecases
from invitations.config import Settings
from shared.contracts.events import CycleRequested
from shared.db import UnitOfWork
from shared.service import ServiceRuntime


def register(runtime: ServiceRuntime, settings: Settings) -> None:
    on = runtime.consumers.on

    @on(CycleRequested, name="open-cycle")
    async def on_cycle_requested(event: CycleRequested, uow: UnitOfWork) -> None:
        """Another system (or our own API) asked for a 360."""
        await usecases.open_cycle(uow, event, settings=settings)
