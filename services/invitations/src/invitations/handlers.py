"""Kafka subscribers: parse the event, call one use case."""

from invitations.config import Settings
from invitations.usecases import facilitators, intake, lifecycle, nominations
from shared.contracts.events import (
    AvailabilityPublished,
    CycleClosed,
    CycleRequested,
    FacilitatorAccredited,
    FacilitatorRegistered,
    FacilitatorStatusChanged,
    RaterDeclined,
    ReportReleased,
    ResponseReceived,
)
from shared.db import UnitOfWork
from shared.service import ServiceRuntime


def register(runtime: ServiceRuntime, settings: Settings) -> None:
    on = runtime.consumers.on

    @on(CycleRequested, name="open-cycle")
    async def on_cycle_requested(event: CycleRequested, uow: UnitOfWork) -> None:
        """Another system (or our own API) asked for a 360."""
        await intake.open_cycle(uow, event, settings=settings)

    @on(ResponseReceived, name="response-received")
    async def on_response_received(event: ResponseReceived, uow: UnitOfWork) -> None:
        """Stop reminding the rater and thank them (the fact of the response: never its answers)."""
        await nominations.record_submission(uow, event)

    @on(RaterDeclined, name="rater-declined")
    async def on_rater_declined(event: RaterDeclined, uow: UnitOfWork) -> None:
        """Show the participant that this rater needs a replacement."""
        await nominations.record_decline(uow, event)

    @on(CycleClosed, name="cycle-closed")
    async def on_cycle_closed(event: CycleClosed, uow: UnitOfWork) -> None:
        """Stop reminders; tell the participant what happens next."""
        await lifecycle.record_cycle_closed(uow, event)

    @on(ReportReleased, name="report-released")
    async def on_report_released(event: ReportReleased, uow: UnitOfWork) -> None:
        """Show the release on the participant's dashboard (reports emails them the link)."""
        await lifecycle.record_report_released(uow, event)

    @on(FacilitatorRegistered, name="facilitator-registered")
    async def on_facilitator_registered(event: FacilitatorRegistered, uow: UnitOfWork) -> None:
        """Read model of facilitators the participant may choose."""
        await facilitators.facilitator_registered(uow, event)

    @on(FacilitatorAccredited, name="facilitator-accredited")
    async def on_facilitator_accredited(event: FacilitatorAccredited, uow: UnitOfWork) -> None:
        """Read model of facilitators the participant may choose."""
        await facilitators.facilitator_accredited(uow, event)

    @on(FacilitatorStatusChanged, name="facilitator-status")
    async def on_facilitator_status(event: FacilitatorStatusChanged, uow: UnitOfWork) -> None:
        """Read model of facilitators the participant may choose."""
        await facilitators.facilitator_status_changed(uow, event)

    @on(AvailabilityPublished, name="facilitator-availability")
    async def on_availability(event: AvailabilityPublished, uow: UnitOfWork) -> None:
        """Read model of facilitators the participant may choose."""
        await facilitators.availability_published(uow, event)
