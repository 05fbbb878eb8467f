"""A rater declines to give feedback: it counts as answered, with an optional reason."""

from __future__ import annotations

import logging
from datetime import datetime

from ratings.domain import (
    CycleStatus,
    accepts_responses,
)
from ratings.usecases.common import PRODUCER, Access, RaterAccess, delete_draft, lock_cycle, rater_by_token
from ratings.usecases.cycles import close_if_complete
from shared.contracts.events import (
    RaterDeclined,
)
from shared.contracts.vocabulary import RaterGroup
from shared.db import UnitOfWork

log = logging.getLogger(__name__)


async def decline(uow: UnitOfWork, *, token_hash: str, reason: str | None, now: datetime) -> RaterAccess:
    """The rater declines to give feedback: emit RaterDeclined, forget any draft; it counts as answered."""
    rater = await rater_by_token(uow, token_hash)
    if rater is None:
        return RaterAccess(Access.UNKNOWN)
    group = RaterGroup(rater.group)
    cycle = await lock_cycle(uow, rater.cycle_id)
    if cycle is None:
        return RaterAccess(Access.NOT_OPEN, group)
    await uow.session.refresh(rater)
    submitted = rater.submitted_at is not None
    if rater.withdrawn_at is not None:
        return RaterAccess(Access.WITHDRAWN, group, submitted)
    if not accepts_responses(status=CycleStatus(cycle.status), deadline=cycle.deadline, now=now):
        return RaterAccess(Access.CLOSED, group, submitted)
    if submitted:
        return RaterAccess(Access.SUBMITTED, group, submitted)
    if rater.declined_at is not None:
        return RaterAccess(Access.DECLINED, group)
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
