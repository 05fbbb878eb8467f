"""Who is waiting for a feedback session: the operators' attention list and a region's waiting
cycles (the regional lead's list). Queries only."""

from __future__ import annotations

from sqlalchemy import exists, or_, select
from sqlmodel import col

from scheduling.tables import BookingRequest, FeedbackSession
from scheduling.usecases.common import LIVE, in_region
from shared.db import UnitOfWork


async def attention_list(uow: UnitOfWork) -> list[BookingRequest]:
    """Cycles with nothing offered yet (or booked across the management line), longest waiting first."""
    rows = await uow.session.execute(
        select(BookingRequest)
        .where(col(BookingRequest.unscheduled_reason).is_not(None))
        .order_by(col(BookingRequest.created_at))
    )
    return list(rows.scalars())


async def waiting_in_region(uow: UnitOfWork, *, region: str) -> list[BookingRequest]:
    """The region's cycles with no live session, and booked ones while flagged (a facilitator now in the
    participant's management line), oldest first: the regional lead's list."""
    has_live = exists().where(col(FeedbackSession.cycle_id) == col(BookingRequest.cycle_id), LIVE)
    rows = await uow.session.execute(
        select(BookingRequest)
        .where(
            in_region(BookingRequest.region, region),
            or_(~has_live, col(BookingRequest.unscheduled_reason).is_not(None)),
        )
        .order_by(col(BookingRequest.created_at))
    )
    return list(rows.scalars())
