"""A fresh booking link for a participant whose link expired (docs/adr/0016): emailed to the
address this service already holds for them, never to one a visitor types; minted as it is queued."""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

from scheduling.config import Settings
from scheduling.tables import BookingRequest, Participant
from scheduling.usecases.common import links, queue_email
from shared.db import UnitOfWork

log = logging.getLogger(__name__)


async def send_new_booking_link(uow: UnitOfWork, *, cycle_id: UUID, settings: Settings, now: datetime) -> bool:
    """Queue the booking link of a cycle invited to book, to its participant's address on record.
    False, queueing nothing, when there is nobody to send it to: the caller answers the same either way."""
    request = await uow.session.get(BookingRequest, cycle_id)
    participant = await uow.session.get(Participant, cycle_id)
    queued = request is not None and participant is not None and bool(participant.email)
    if queued:
        assert participant is not None and participant.email is not None
        queue_email(
            uow,
            kind="booking_link",
            to=participant.email,
            cycle_id=cycle_id,
            context={
                "name": participant.name,
                "link": links(settings).booking_url(cycle_id, now=now),
                "days": settings.booking_link_days,
            },
        )
    log.info("new booking link asked for", extra={"cycle_id": str(cycle_id), "queued": queued})
    return queued
