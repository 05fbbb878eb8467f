"""Kafka subscribers: parse the event, call one use case."""

from datetime import UTC, datetime

from scheduling.config import Settings
from scheduling.usecases import booking
from shared.contracts.events import CycleOpened, ManagementLineChanged, ReportGenerated
from shared.db import UnitOfWork
from shared.service import ServiceRuntime


def register(runtime: ServiceRuntime, settings: Settings) -> None:
    on = runtime.consumers.on

    @on(CycleOpened, name="record-participant")
    async def on_cycle_opened(event: CycleOpened, uow: UnitOfWork) -> None:
        """Keep the participant's contact details and chosen facilitator for booking."""
        await booking.record_participant(uow, event)

    @on(ManagementLineChanged, name="record-management-line")
    async def on_management_line_changed(event: ManagementLineChanged, uow: UnitOfWork) -> None:
        """Keep the participant's newest management line (a line manager nominated after opening)."""
        await booking.change_management_line(uow, event, settings=settings, now=datetime.now(UTC))

    @on(ReportGenerated, name="book-session")
    async def on_report_generated(event: ReportGenerated, uow: UnitOfWork) -> None:
        """A report is ready: invite the participant to choose their feedback session time."""
        await booking.request_booking(uow, event, settings=settings, now=datetime.now(UTC))
