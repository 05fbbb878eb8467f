"""A rater declines to give feedback: it counts as answered, with an optional reason."""

from __future__ import annotations

import logging
from datetime import datetime

from ratings.domain import (
    CycleStatus,
    accepts_responses,
)
from ratings.usecases.common import PRODUCER, Access, RaterAccess, delete_draft, lock_rater
from ratings.usecases.cycles import close_if_complete
from shared.contracts.events import (
    RaterDeclined,
)
from shared.db import UnitOfWork

log = logging.getLogger(__name__)


async def decline(uow: UnitOfWork, *, token_hash: str, reason: str | None, now: datetime) -> RaterAccess:
    """The rater declines to give feedback: emit RaterDeclined, forget any draft; it counts as answered."""
    locked = await lock_rater(uow, token_hash)
    if isinstance(locked, RaterAccess):
        return locked
    rater, cycle, group, submitted = locked.rater, locked.cycle, locked.group, locked.submitted
    if not accepts_responses(status=CycleStatus(cycle.status), deadline=cycle.deadline, now=now):
        return RaterAccess(Access.CLOSED, group, submitted)
    if (answered := locked.already_answered()) is not None:
        return answered
    rater.declined_at = now
    uow.session.add(rater)
    await delete_draft(uow, token_hash)
    uow.emit(
        RaterDeclined(
            producer=PRODUCER,
            correlation_id=cycle.correlation_id,
            cycle_id=cycle.id,
            rater_id=rater.id,
            group=group,
            reason=reason or None,
        )
    )
    log.info("rater declined", extra={"cycle_id": str(cycle.id), "rater_id": str(rater.id)})
    await close_if_complete(uow, cycle, now=now)
    return RaterAccess(Access.ACCEPTED, group)
