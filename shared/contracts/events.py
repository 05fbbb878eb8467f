"""Events that cross service boundaries. Past tense; one Kafka topic per event type and version.

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

from datetime import UTC, date, datetime
from typing import Annotated, ClassVar, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from shared.contracts.text import SINGLE_LINE, FreeText, SingleLine
from shared.contracts.vocabulary import (
    CloseReason,
    Dimension,
    FundingMethod,
    RaterGroup,
    SessionMode,
)

CYCLE_ID_EXAMPLE = "6f1c1a52-4f3e-4b0e-9d83-2b9c4a7e5d10"
RATER_ID_EXAMPLE = "0b7e7a5e-93a4-4f7a-8f6c-1c3f0f6a2d11"
FACILITATOR_ID_EXAMPLE = "9a3b8c1d-2e4f-4a5b-8c6d-7e8f9a0b1c2d"

PERSON_NAME_MAX = 100
PersonName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=PERSON_NAME_MAX), *SINGLE_LINE
]
DisplayName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2 * PERSON_NAME_MAX + 1), *SINGLE_LINE
]
LanguageCode = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z]{2,3}$")]
Email = Annotated[EmailStr, Field(max_length=254)]  # RFC 5321's limit on a forward path
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Count = Annotated[int, Field(ge=0, le=10_000)]  # a 360 has at most 51 raters: far above, within 32 bits
MAX_ANSWERS = 200
MAX_IMPORTANCE = 20
MAX_COMMENTS = 20


def utc_now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Envelope fields shared by every event."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    key_field: ClassVar[str] = "cycle_id"

    event_id: UUID = Field(
        default_factory=uuid4,
        description="Unique id of this event; consumers use it to ignore redeliveries.",
        examples=["3d2f6c7e-1b1a-4d8e-a0c4-6a1f0e2b9c33"],
    )
    event_type: str = Field(max_length=100, description="Name of the event, equal to the message title.")
    schema_version: Literal[1] = Field(
        default=1, description="Version of this event's schema; a breaking change is a new version."
    )
    occurred_at: AwareDatetime = Field(
        default_factory=utc_now,
        description="When the fact happened, ISO 8601 with a UTC offset.",
        examples=["2026-11-26T09:30:00Z"],
    )
    correlation_id: UUID | None = Field(
        default=None,
        description="Id of the request or event that started this chain of events, if any.",
        examples=[CYCLE_ID_EXAMPLE],
    )
    producer: SingleLine = Field(description="Name of the system that published the event.", examples=["invitations"])

    def kafka_key(self) -> bytes:
        return str(getattr(self, self.key_field)).encode()


class CycleEvent(Event):
    cycle_id: UUID = Field(
        description="Id of the 360 cycle; the Kafka key of every cycle event.",
        examples=[CYCLE_ID_EXAMPLE],
    )


# --- CycleRequested: the intake contract for other NHS systems --------------------------------


class Participant(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    participant_id: SingleLine = Field(
        description="The requesting system's stable id for the person (e.g. an ESR assignment number).",
        examples=["ESR-10293847"],
    )
    given_name: PersonName = Field(examples=["Amara"])
    family_name: PersonName = Field(examples=["Okafor"])
    email: Email = Field(examples=["amara.okafor@example.nhs.uk"])
    organisation: SingleLine = Field(
        description="Employing organisation (used for facilitator conflict-of-interest rules).",
        examples=["Example NHS Foundation Trust"],
    )
    region: SingleLine = Field(default="unspecified", description="NHS region.", examples=["London"])
    management_line: list[Email] = Field(
        default_factory=list,
        max_length=10,
        description="Work emails of the participant's line manager and the managers above them. Used only to keep "
        "facilitators out of the participant's own management line (conflict of interest); never shown or logged. "
        "A nominated line manager rater is added automatically.",
        examples=[["jo.bloggs@example.nhs.uk"]],
    )
    preferred_language: LanguageCode | None = Field(
        default=None,
        description="Language the participant would like their feedback session in: an ISO 639 code "
        "('en', 'cy' for Welsh) or 'bsl' for British Sign Language. Facilitators are matched on it.",
        examples=["cy"],
    )


class RaterNomination(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    group: Literal[RaterGroup.LINE_MANAGER, RaterGroup.PEER, RaterGroup.DIRECT_REPORT, RaterGroup.OTHER] = Field(
        description="Rater group; the participant is added as 'self' automatically.", examples=["peer"]
    )
    name: SingleLine = Field(examples=["Sam Patel"])
    email: Email = Field(examples=["sam.patel@example.nhs.uk"])


class Funding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    method: FundingMethod = Field(examples=["purchase_order"])
    reference: SingleLine = Field(
        description="Payment reference, purchase order number or programme credit account.",
        examples=["PO-2026-000123"],
    )


class CycleRequested(CycleEvent):
    """A 360 was requested for a participant, by a person or another NHS system."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "event_id": "3d2f6c7e-1b1a-4d8e-a0c4-6a1f0e2b9c33",
                    "event_type": "CycleRequested",
                    "schema_version": 1,
                    "occurred_at": "2026-11-26T09:30:00Z",
                    "producer": "mary-seacole-enrolment",
                    "cycle_id": CYCLE_ID_EXAMPLE,
                    "participant": {
                        "participant_id": "ESR-10293847",
                        "given_name": "Amara",
                        "family_name": "Okafor",
                        "email": "amara.okafor@example.nhs.uk",
                        "organisation": "Example NHS Foundation Trust",
                        "region": "London",
                        "management_line": ["jo.bloggs@example.nhs.uk"],
                        "preferred_language": "en",
                    },
                    "programme": "Mary Seacole Programme 2027 cohort 1",
                    "deadline": "2026-12-17T17:00:00Z",
                    "funding": {"method": "programme_credit", "reference": "MSP-2027-C1"},
                    "raters": [
                        {"group": "line_manager", "name": "Jo Bloggs", "email": "jo.bloggs@example.nhs.uk"},
                        {"group": "peer", "name": "Sam Patel", "email": "sam.patel@example.nhs.uk"},
                    ],
                }
            ]
        }
    )

    event_type: Literal["CycleRequested"] = "CycleRequested"
    participant: Participant
    programme: SingleLine | None = Field(
        default=None, description="Programme requiring the 360, if any.", examples=["Mary Seacole Programme"]
    )
    facilitator_id: UUID | None = Field(
        default=None,
        description="Accredited facilitator chosen by the participant, if any.",
        examples=[FACILITATOR_ID_EXAMPLE],
    )
    deadline: AwareDatetime = Field(description="When the rating window closes.", examples=["2026-12-17T17:00:00Z"])
    funding: Funding
    raters: list[RaterNomination] = Field(
        min_length=1, max_length=50, description="Nominated raters (not including the participant)."
    )


class CycleOpened(CycleEvent):
    """A funded 360 cycle was opened and its raters invited."""

    event_type: Literal["CycleOpened"] = "CycleOpened"
    participant_id: SingleLine
    participant_name: DisplayName = Field(
        description="Display name of the participant (given name, a space, family name), for their own report."
    )
    organisation: SingleLine
    region: SingleLine
    programme: SingleLine | None = None
    participant_email: Email | None = Field(
        default=None,
        description="The participant's own email, for booking their feedback session and sending their report. "
        "Raters' contact details never leave the invitations service (see `management_line`).",
    )
    facilitator_id: UUID | None = None
    management_line: list[Email] = Field(
        default_factory=list,
        max_length=20,
        description="Work emails in the participant's management line (from the request, plus any nominated line "
        "manager, who is identifiable by role in HLM 360 anyway). Only for keeping facilitators out of the "
        "participant's own line; consumers must not show or log them.",
        examples=[["jo.bloggs@example.nhs.uk"]],
    )
    preferred_language: LanguageCode | None = Field(
        default=None, description="Language the participant would like their feedback session in.", examples=["cy"]
    )
    deadline: AwareDatetime
    invited_per_group: dict[RaterGroup, Count] = Field(
        description="How many raters were invited in each group, including 'self'.",
        examples=[{"self": 1, "line_manager": 1, "peer": 3, "direct_report": 3, "other": 2}],
    )


class RaterNominated(CycleEvent):
    """A rater was nominated. Carries a pseudonymous rater id, never the person's name or email."""

    event_type: Literal["RaterNominated"] = "RaterNominated"
    rater_id: UUID = Field(description="Pseudonymous rater id.", examples=[RATER_ID_EXAMPLE])
    group: RaterGroup
    link_token_sha256: Sha256Hex = Field(
        description="SHA-256 (hex) of the rater's personal link token; the token itself is only in the email."
    )
    replaces_rater_id: UUID | None = Field(
        default=None, description="Set when this rater replaces one who declined or whose email bounced."
    )


class RaterWithdrawn(CycleEvent):
    """A rater no longer counts towards the cycle (email bounced, or replaced); their link stops working."""

    event_type: Literal["RaterWithdrawn"] = "RaterWithdrawn"
    rater_id: UUID
    group: RaterGroup
    reason: Literal["bounced", "replaced", "removed"]


class RaterDeclined(CycleEvent):
    """A rater declined to give feedback. The optional reason is for the participant's eyes only."""

    event_type: Literal["RaterDeclined"] = "RaterDeclined"
    rater_id: UUID
    group: RaterGroup
    reason: FreeText | None = None


class ManagementLineChanged(CycleEvent):
    """The participant's management line changed after the cycle opened, e.g. a replacement line
    manager was nominated. Carries the whole line as it now is (not a difference). Within a cycle the
    line only grows (a replaced line manager stays in it), so consumers merge lines by union: applying
    one twice, late or out of order changes nothing, and producers' clocks do not matter."""

    event_type: Literal["ManagementLineChanged"] = "ManagementLineChanged"
    management_line: list[Email] = Field(
        max_length=20,
        description="Work emails in the participant's management line, as on CycleOpened. Only for keeping "
        "facilitators out of the participant's own line; consumers must not show or log them.",
        examples=[["jo.bloggs@example.nhs.uk", "new.manager@example.nhs.uk"]],
    )


class CycleDeadlineExtended(CycleEvent):
    """The participant or an admin moved an open cycle's deadline later."""

    event_type: Literal["CycleDeadlineExtended"] = "CycleDeadlineExtended"
    deadline: AwareDatetime


class CycleCloseRequested(CycleEvent):
    """The participant or an admin asked to close an open cycle early (the ratings service closes it)."""

    event_type: Literal["CycleCloseRequested"] = "CycleCloseRequested"
    requested_by: Literal["participant", "admin"]


class InvitationSent(CycleEvent):
    """An invitation email left for a rater."""

    event_type: Literal["InvitationSent"] = "InvitationSent"
    rater_id: UUID = Field(examples=[RATER_ID_EXAMPLE])
    group: RaterGroup


class ItemAnswer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    item_id: SingleLine = Field(examples=["ISP-E"])
    dimension: Dimension
    score: int | None = Field(
        ge=1, le=5, description="1 (rarely) to 5 (almost always); null when 'not observed'.", examples=[4]
    )


class ImportanceAnswer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    dimension: Dimension
    score: int = Field(ge=1, le=5, description="Importance of the dimension to the participant's role.")


class CommentAnswer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    question_id: SingleLine = Field(examples=["overall_strengths"])
    text: FreeText


class RatingSubmitted(CycleEvent):
    """A rater submitted their questionnaire. Pseudonymous: rater id and group only."""

    event_type: Literal["RatingSubmitted"] = "RatingSubmitted"
    rater_id: UUID = Field(examples=[RATER_ID_EXAMPLE])
    group: RaterGroup
    questionnaire_version: SingleLine = Field(examples=["hlm360-default-1"])
    answers: list[ItemAnswer] = Field(min_length=1, max_length=MAX_ANSWERS)
    importance: list[ImportanceAnswer] = Field(default_factory=list, max_length=MAX_IMPORTANCE)
    comments: list[CommentAnswer] = Field(default_factory=list, max_length=MAX_COMMENTS)


class SelfAssessmentCompleted(Event):
    """Someone completed the free HLM self-assessment (no 360). Private to them."""

    key_field: ClassVar[str] = "assessment_id"
    event_type: Literal["SelfAssessmentCompleted"] = "SelfAssessmentCompleted"
    assessment_id: UUID
    access_token_sha256: Sha256Hex = Field(
        description="SHA-256 of the person's private link token; only they hold the token."
    )
    questionnaire_version: SingleLine
    answers: list[ItemAnswer] = Field(min_length=1, max_length=MAX_ANSWERS)
    importance: list[ImportanceAnswer] = Field(default_factory=list, max_length=MAX_IMPORTANCE)
    comments: list[CommentAnswer] = Field(default_factory=list, max_length=MAX_COMMENTS)


class CycleClosed(CycleEvent):
    """The rating window of a cycle closed; no further submissions are accepted."""

    event_type: Literal["CycleClosed"] = "CycleClosed"
    reason: CloseReason
    responses_per_group: dict[RaterGroup, Count] = Field(
        description="Number of submitted responses per rater group.",
        examples=[{"self": 1, "line_manager": 1, "peer": 3, "direct_report": 3, "other": 2}],
    )


class ReportGenerated(CycleEvent):
    """The 360 report of a closed cycle was compiled."""

    event_type: Literal["ReportGenerated"] = "ReportGenerated"
    report_id: UUID
    participant_id: SingleLine
    organisation: SingleLine
    region: SingleLine
    facilitator_id: UUID | None = None


class FeedbackSessionScheduled(CycleEvent):
    """A facilitated feedback session was booked for a cycle's report."""

    event_type: Literal["FeedbackSessionScheduled"] = "FeedbackSessionScheduled"
    session_id: UUID
    report_id: UUID
    facilitator_id: UUID
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    mode: SessionMode


class ReportReleased(CycleEvent):
    """The participant may now read their report (at or after the feedback session)."""

    event_type: Literal["ReportReleased"] = "ReportReleased"
    report_id: UUID
    reason: Literal["session_completed", "released_by_facilitator", "released_by_admin"] = Field(
        description="session_completed: the facilitator marked the feedback session completed; released_by_admin: "
        "an administrator released it without a completed session (the conversation happened elsewhere); "
        "released_by_facilitator: reserved, not produced by hlm360 today.",
    )


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


class FacilitatorEvent(Event):
    key_field: ClassVar[str] = "facilitator_id"
    facilitator_id: UUID = Field(description="Kafka key of facilitator events.", examples=[FACILITATOR_ID_EXAMPLE])


class FacilitatorRegistered(FacilitatorEvent):
    """A facilitator joined a regional register (directory information, not personal feedback)."""

    event_type: Literal["FacilitatorRegistered"] = "FacilitatorRegistered"
    name: SingleLine
    email: Email
    region: SingleLine
    organisation: SingleLine
    languages: list[SingleLine] = Field(default_factory=lambda: ["English"], max_length=50)
    monthly_capacity: int = Field(ge=0, le=100)


class FacilitatorAccredited(FacilitatorEvent):
    """A facilitator passed the e-learning (>= 80%) and completed the one-day course."""

    event_type: Literal["FacilitatorAccredited"] = "FacilitatorAccredited"
    elearning_score: int = Field(ge=0, le=100)
    elearning_passed_on: date
    course_completed_on: date


class FacilitatorStatusChanged(FacilitatorEvent):
    """A facilitator became active, lapsed or suspended."""

    event_type: Literal["FacilitatorStatusChanged"] = "FacilitatorStatusChanged"
    status: Literal["active", "lapsed", "suspended"]


class AvailabilityPublished(FacilitatorEvent):
    """A facilitator's free feedback-session capacity changed (summary; slots stay in scheduling)."""

    event_type: Literal["AvailabilityPublished"] = "AvailabilityPublished"
    free_slots: int = Field(ge=0, le=10_000, description="Free session slots (bounded: a database integer).")
    next_free_slot_at: AwareDatetime | None = None
    modes: list[SessionMode] = Field(default_factory=list, max_length=10)


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
)
