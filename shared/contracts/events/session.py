"""Events of a facilitated feedback session: scheduled, rescheduled, cancelled, completed."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime

from shared.contracts.events.base import (
    CycleEvent,
)
from shared.contracts.vocabulary import SessionMode


class FeedbackSessionScheduled(CycleEvent):
    """A facilitated feedback session was booked for a cycle's report."""

    event_type: Literal["FeedbackSessionScheduled"] = "FeedbackSessionScheduled"
    session_id: UUID
    report_id: UUID
    facilitator_id: UUID
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    mode: SessionMode


class FeedbackSessionRescheduled(CycleEvent):
    """A booked feedback session moved to another time."""

    event_type: Literal["FeedbackSessionRescheduled"] = "FeedbackSessionRescheduled"
    session_id: UUID
    facilitator_id: UUID
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    mode: SessionMode


class FeedbackSessionCancelled(CycleEvent):
    """A booked feedback session was cancelled (a new one may be booked)."""

    event_type: Literal["FeedbackSessionCancelled"] = "FeedbackSessionCancelled"
    session_id: UUID
    reason: Literal["participant", "facilitator", "admin"]


class FeedbackSessionCompleted(CycleEvent):
    """The facilitator recorded the outcome of a feedback session."""

    event_type: Literal["FeedbackSessionCompleted"] = "FeedbackSessionCompleted"
    session_id: UUID
    report_id: UUID
    facilitator_id: UUID
    outcome: Literal["completed", "no_show"]
