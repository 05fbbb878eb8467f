"""Kafka subscribers: parse the event, call one use case."""

from reports import usecases
from reports.config import Settings
from shared.contracts.events import (
    CycleClosed,
    CycleOpened,
    FacilitatorRegistered,
    FeedbackSessionCancelled,
    FeedbackSessionCompleted,
    FeedbackSessionRescheduled,
    FeedbackSessionScheduled,
    RatingSubmitted,
    SelfAssessmentCompleted,
)
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

    @on(FacilitatorRegistered, name="record-facilitator")
    async def on_facilitator_registered(event: FacilitatorRegistered, uow: UnitOfWork) -> None:
        """A facilitator's directory entry: where their report links go."""
        await usecases.record_facilitator(uow, event, settings=settings)

    @on(FeedbackSessionScheduled, name="record-session-scheduled")
    async def on_session_scheduled(event: FeedbackSessionScheduled, uow: UnitOfWork) -> None:
        """A session was booked: its facilitator may read the report."""
        await usecases.record_session(uow, event, settings=settings)

    @on(FeedbackSessionRescheduled, name="record-session-rescheduled")
    async def on_session_rescheduled(event: FeedbackSessionRescheduled, uow: UnitOfWork) -> None:
        """A session moved: the facilitator's link follows it."""
        await usecases.record_session(uow, event, settings=settings)

    @on(FeedbackSessionCancelled, name="record-session-cancelled")
    async def on_session_cancelled(event: FeedbackSessionCancelled, uow: UnitOfWork) -> None:
        """A session was cancelled: its facilitator's access ends."""
        await usecases.record_session_cancelled(uow, event)

    @on(FeedbackSessionCompleted, name="release-report")
    async def on_session_completed(event: FeedbackSessionCompleted, uow: UnitOfWork) -> None:
        """A session took place: release the report to the participant."""
        await usecases.record_session_completed(uow, event, settings=settings)

    @on(SelfAssessmentCompleted, name="render-self-assessment")
    async def on_self_assessment_completed(event: SelfAssessmentCompleted, uow: UnitOfWork) -> None:
        """Someone completed the free self-assessment: render their private report."""
        await usecases.record_self_assessment(uow, event)
