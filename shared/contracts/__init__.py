"""The public contract between services and other NHS systems: events and topics."""

from shared.contracts.events import (
    EVENT_TYPES,
    CycleClosed,
    CycleOpened,
    CycleRequested,
    Event,
    FeedbackSessionScheduled,
    InvitationSent,
    RaterNominated,
    RatingSubmitted,
    ReportGenerated,
)
from shared.contracts.topics import DEAD_LETTER_TOPIC, topic_for

__all__ = [
    "DEAD_LETTER_TOPIC",
    "EVENT_TYPES",
    "CycleClosed",
    "CycleOpened",
    "CycleRequested",
    "Event",
    "FeedbackSessionScheduled",
    "InvitationSent",
    "RaterNominated",
    "RatingSubmitted",
    "ReportGenerated",
    "topic_for",
]
