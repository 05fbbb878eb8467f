"""The life of an open 360 after it started: the participant changes the deadline or closes it early;
ratings closes it; reports releases the report."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from invitations.config import Settings
from invitations.domain import extension_problem
from invitations.tables import Cycle
from invitations.usecases.common import PRODUCER, get_cycle, participant_rater, queue_email
from shared.contracts.events import CycleClosed, CycleCloseRequested, CycleDeadlineExtended, ReportReleased
from shared.db import UnitOfWork
from shared.errors import Rejected


async def extend_deadline(uow: UnitOfWork, cycle_id: UUID, *, deadline: datetime, settings: Settings) -> Cycle:
    cycle = await get_cycle(uow, cycle_id)
    if cycle.status != "open":
        raise Rejected("the deadline can only be changed while the 360 is open")
    problem = extension_problem(
        current=cycle.deadline,
        requested=deadline,
        original=cycle.original_deadline or cycle.deadline,
        now=datetime.now(UTC),
        max_extension_days=settings.max_extension_days,
    )
    if problem:
        raise Rejected(problem)
    cycle.deadline = deadline
    uow.session.add(cycle)
    uow.emit(
        CycleDeadlineExtended(
            producer=PRODUCER, correlation_id=cycle.correlation_id, cycle_id=cycle.id, deadline=deadline
        )
    )
    return cycle


async def request_close(uow: UnitOfWork, cycle_id: UUID) -> Cycle:
    """Ask the ratings service to close the 360 now (it emits CycleClosed)."""
    cycle = await get_cycle(uow, cycle_id)
    if cycle.status == "closing":
        return cycle
    if cycle.status != "open":
        raise Rejected("only an open 360 can be closed early")
    cycle.status = "closing"
    cycle.close_requested_at = datetime.now(UTC)
    uow.session.add(cycle)
    uow.emit(
        CycleCloseRequested(
            producer=PRODUCER, correlation_id=cycle.correlation_id, cycle_id=cycle.id, requested_by="participant"
        )
    )
    return cycle


async def record_cycle_closed(uow: UnitOfWork, event: CycleClosed) -> None:
    """The rating window closed: tell the participant what happens next."""
    cycle = await uow.session.get(Cycle, event.cycle_id)
    if cycle is None or cycle.status == "closed":
        return
    cycle.status = "closed"
    cycle.closed_at = event.occurred_at
    uow.session.add(cycle)
    participant = await participant_rater(uow, cycle.id)
    queue_email(
        uow,
        kind="cycle_closed",
        cycle_id=cycle.id,
        rater_id=participant.id,
        context={"reason": event.reason.value, "responses": {g.value: n for g, n in event.responses_per_group.items()}},
    )


async def record_report_released(uow: UnitOfWork, event: ReportReleased) -> None:
    """Shown on the participant's dashboard. The participant's email with their personal report link
    comes from reports, the only service that can sign it: invitations sends none, so there is one
    email, not two that disagree."""
    cycle = await uow.session.get(Cycle, event.cycle_id)
    if cycle is None or cycle.report_released_at is not None:
        return
    cycle.report_released_at = event.occurred_at
    uow.session.add(cycle)
