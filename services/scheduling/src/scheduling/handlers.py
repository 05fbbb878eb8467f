"""Kafka subscribers: parse the event, call one use case."""

from scheduling import usecases
from scheduling.config import Settings
from shared.contracts.events import ReportGenerated
from shared.db import UnitOfWork
from shared.service import ServiceRuntime


def register(runtime: ServiceRuntime, settings: Settings) -> None:
    on = runtime.consumers.on

    @on(ReportGenerated, name="book-session")
    async def on_report_generated(event: ReportGenerated, uow: UnitOfWork) -> None:
        """A report is ready: book its facilitated feedback session."""
        await usecases.book_feedback_session(uow, usecases.BookingRequest.from_event(event), settings=settings)
