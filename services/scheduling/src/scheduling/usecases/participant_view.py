"""What the participant's booking page shows: the live session and its facilitator, else the times on
offer and the languages to filter them by. A query: nothing is written."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from scheduling import domain
from scheduling.config import Settings
from scheduling.tables import BookingRequest, Facilitator, FeedbackSession, Participant
from scheduling.usecases.booking import Offer, offered_slots
from scheduling.usecases.common import live_session_of
from shared.db import UnitOfWork


@dataclass(frozen=True)
class BookingPage:
    """The booking page: the live session (and its facilitator), else the times on offer."""

    session: FeedbackSession | None
    facilitator: Facilitator | None
    offer: Offer | None
    languages: list[str]  # every language someone with a time on offer speaks (the filter's choices)
    participant_name: str | None


async def booking_page(
    uow: UnitOfWork, *, cycle_id: UUID, language: str | None, settings: Settings, now: datetime
) -> BookingPage | None:
    """What the participant sees on their booking page; None while the report is being prepared."""
    request = await uow.session.get(BookingRequest, cycle_id)
    if request is None:
        return None
    session = await live_session_of(uow, cycle_id=cycle_id)
    facilitator = await uow.session.get(Facilitator, session.facilitator_id) if session else None
    offer = everyone = None
    if session is None:
        offer = await offered_slots(uow, request, settings=settings, now=now, language=language)
        everyone = await offered_slots(uow, request, settings=settings, now=now, language=domain.ANY_LANGUAGE)
    languages = sorted(
        {code for o in (everyone.options if everyone else []) for code in o.languages}, key=domain.language_name
    )
    participant = await uow.session.get(Participant, cycle_id)
    return BookingPage(
        session=session,
        facilitator=facilitator,
        offer=offer,
        languages=languages,
        participant_name=participant.name if participant else None,
    )
