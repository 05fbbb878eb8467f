"""The read model of each cycle, built from ratings' events: participant, responses, the close.

The three events of a cycle arrive on different topics in any order, and may be handled at the
same time: every use case first locks the cycle's row, so whichever event completes the picture
last sees the others' committed rows and generates the report exactly once."""

from __future__ import annotations

from reports.config import Settings
from reports.tables import (
    Report,
    Response,
)
from reports.usecases.common import lock_cycle
from reports.usecases.compiling import generate_if_complete
from shared.contracts.events import (
    CycleClosed,
    CycleOpened,
    RatingSubmitted,
)
from shared.db import UnitOfWork
from shared.errors import Rejected


async def record_cycle_opened(uow: UnitOfWork, event: CycleOpened, *, settings: Settings) -> Report | None:
    """Keep what the report needs about the participant; generate if this was the missing piece."""
    cycle = await lock_cycle(uow, event.cycle_id)
    if cycle.opened_at is None:
        cycle.participant_id = event.participant_id
        cycle.participant_name = event.participant_name
        cycle.organisation = event.organisation
        cycle.region = event.region
        cycle.programme = event.programme
        cycle.participant_email = str(event.participant_email) if event.participant_email else None
        cycle.facilitator_id = event.facilitator_id
        cycle.deadline = event.deadline
        cycle.opened_at = event.occurred_at
        uow.session.add(cycle)
    return await generate_if_complete(uow, cycle, settings=settings, correlation_id=event.correlation_id)


async def record_rating(uow: UnitOfWork, event: RatingSubmitted, *, settings: Settings) -> Report | None:
    """Store one pseudonymous response (once per rater); generate if it was the last one awaited."""
    cycle = await lock_cycle(uow, event.cycle_id)
    existing = await uow.session.get(Response, event.rater_id)
    if existing is not None:
        if existing.cycle_id != event.cycle_id:
            raise Rejected("this rater id already submitted a response for another cycle")
        return None
    uow.session.add(
        Response(
            rater_id=event.rater_id,
            cycle_id=event.cycle_id,
            group=event.group.value,
            questionnaire_version=event.questionnaire_version,
            answers=[a.model_dump(mode="json") for a in event.answers],
            importance=[i.model_dump(mode="json") for i in event.importance],
            comments=[c.model_dump(mode="json") for c in event.comments],
            submitted_at=event.occurred_at,
        )
    )
    await uow.session.flush()
    return await generate_if_complete(uow, cycle, settings=settings, correlation_id=event.correlation_id)


async def record_cycle_closed(uow: UnitOfWork, event: CycleClosed, *, settings: Settings) -> Report | None:
    """Remember how many responses the closed cycle has; generate if they are all here."""
    cycle = await lock_cycle(uow, event.cycle_id)
    if cycle.closed_at is None:
        cycle.closed_at = event.occurred_at
        cycle.close_reason = event.reason.value
        cycle.responses_per_group = {g.value: n for g, n in event.responses_per_group.items()}
        uow.session.add(cycle)
    return await generate_if_complete(uow, cycle, settings=settings, correlation_id=event.correlation_id)
