"""Events that cross service boundaries. Past tense; one Kafka topic per event type and version.

One module per aggregate (`cycle`, `rater`, `rating`, `report`, `session`, `facilitator`; the
envelope in `base`), all re-exported here: import events from `shared.contracts.events`.

Every event carries the envelope (`event_id`, `event_type`, `schema_version`, `occurred_at`,
`correlation_id`, `producer`) and the aggregate id used as the Kafka key (`cycle_id` for the
360 journey), so all of one cycle's events stay in order on each topic's partition.
Readers ignore unknown fields: producers may add fields within a schema version.

Text and lists are bounded (schema version 1, tightened additively: the refused inputs were never
meaningful). Every name, id-like label and other single-line text is `SingleLine` (no control
characters, line or paragraph separators, or bidirectional overrides: they broke email subjects
and reports), free text is `FreeText` (new lines allowed), both from `shared.contracts.text`; every
list has a `max_length` (answers at most 200, importance and comments at most 20, languages 50,
modes 10). A participant's given and family names are at most 100 characters each, so the display
name `CycleOpened.participant_name` ("given family") is at most 201.
"""

from __future__ import annotations

from shared.contracts.events.base import (
    CYCLE_ID_EXAMPLE,
    FACILITATOR_ID_EXAMPLE,
    MAX_ANSWERS,
    MAX_COMMENTS,
    MAX_IMPORTANCE,
    PERSON_NAME_MAX,
    RATER_ID_EXAMPLE,
    Count,
    CycleEvent,
    DisplayName,
    Email,
    Event,
    LanguageCode,
    PersonName,
    Sha256Hex,
    utc_now,
)
from shared.contracts.events.cycle import (
    CycleClosed,
    CycleCloseRequested,
    CycleDeadlineExtended,
    CycleOpened,
    CycleRequested,
    Funding,
    ManagementLineChanged,
    Participant,
    RaterNomination,
)
from shared.contracts.events.facilitator import (
    AvailabilityPublished,
    FacilitatorAccredited,
    FacilitatorEvent,
    FacilitatorRegistered,
    FacilitatorStatusChanged,
)
from shared.contracts.events.rater import (
    InvitationSent,
    RaterDeclined,
    RaterNominated,
    RaterWithdrawn,
    ResponseReceived,
)
from shared.contracts.events.rating import (
    CommentAnswer,
    ImportanceAnswer,
    ItemAnswer,
    RatingSubmitted,
    SelfAssessmentCompleted,
)
from shared.contracts.events.report import (
    ReportGenerated,
    ReportReleased,
)
from shared.contracts.events.session import (
    FeedbackSessionCancelled,
    FeedbackSessionCompleted,
    FeedbackSessionRescheduled,
    FeedbackSessionScheduled,
)

EVENT_TYPES: tuple[type[Event], ...] = (
    CycleRequested,
    CycleOpened,
    RaterNominated,
    InvitationSent,
    RatingSubmitted,
    CycleClosed,
    ReportGenerated,
    FeedbackSessionScheduled,
    RaterWithdrawn,
    RaterDeclined,
    CycleDeadlineExtended,
    CycleCloseRequested,
    SelfAssessmentCompleted,
    ManagementLineChanged,
    ReportReleased,
    FeedbackSessionRescheduled,
    FeedbackSessionCancelled,
    FeedbackSessionCompleted,
    FacilitatorRegistered,
    FacilitatorAccredited,
    FacilitatorStatusChanged,
    AvailabilityPublished,
    ResponseReceived,
)

__all__ = [
    "CYCLE_ID_EXAMPLE",
    "EVENT_TYPES",
    "FACILITATOR_ID_EXAMPLE",
    "MAX_ANSWERS",
    "MAX_COMMENTS",
    "MAX_IMPORTANCE",
    "PERSON_NAME_MAX",
    "RATER_ID_EXAMPLE",
    "AvailabilityPublished",
    "CommentAnswer",
    "Count",
    "CycleCloseRequested",
    "CycleClosed",
    "CycleDeadlineExtended",
    "CycleEvent",
    "CycleOpened",
    "CycleRequested",
    "DisplayName",
    "Email",
    "Event",
    "FacilitatorAccredited",
    "FacilitatorEvent",
    "FacilitatorRegistered",
    "FacilitatorStatusChanged",
    "FeedbackSessionCancelled",
    "FeedbackSessionCompleted",
    "FeedbackSessionRescheduled",
    "FeedbackSessionScheduled",
    "Funding",
    "ImportanceAnswer",
    "InvitationSent",
    "ItemAnswer",
    "LanguageCode",
    "ManagementLineChanged",
    "Participant",
    "PersonName",
    "RaterDeclined",
    "RaterNominated",
    "RaterNomination",
    "RaterWithdrawn",
    "RatingSubmitted",
    "ReportGenerated",
    "ReportReleased",
    "ResponseReceived",
    "SelfAssessmentCompleted",
    "Sha256Hex",
    "utc_now",
]
