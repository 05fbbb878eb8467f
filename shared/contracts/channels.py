"""Who may write and who reads each topic: the trust model of the event backbone, in one table.

It is part of the public contract (the AsyncAPI document says it in its operations) and the source
of the broker's access rules: every principal gets exactly these rights and no more (docs/adr, "trust model").
A test checks it against the code: each service subscribes to exactly what it is said to read, and
builds only the events it is said to write.

- Each service writes the topics of the events it owns and reads those it consumes; every service
  writes the dead-letter topic.
- `external` is any other NHS system (a programme's learning platform, an HR system): it may start
  a 360 (`CycleRequested`) and follow its progress through events that hold no answers and no
  personal details (`CycleClosed`, `ReportReleased`, `FeedbackSessionCompleted`). It can never
  write what a service owns, nor read answers, names or email addresses.
- Answers (`RatingSubmitted`, `SelfAssessmentCompleted`) are read by reports alone. A service that
  needs only the fact of a response (invitations, for progress and thanks) reads `ResponseReceived`,
  which holds no answers (docs/adr, "minimum data in events").
- Operators read everything and replay dead letters (the `admin` principal, local use and the
  operator console). They alone write and read the dead-letter audit topic (`DEAD_LETTER_AUDIT_TOPIC`,
  shared.contracts.deadletters): it is no event, and no service principal gets a rule for it.
"""

from __future__ import annotations

from collections.abc import Mapping

from shared.contracts.events import (
    EVENT_TYPES,
    AvailabilityPublished,
    CycleClosed,
    CycleCloseRequested,
    CycleDeadlineExtended,
    CycleOpened,
    CycleRequested,
    Event,
    FacilitatorAccredited,
    FacilitatorRegistered,
    FacilitatorStatusChanged,
    FeedbackSessionCancelled,
    FeedbackSessionCompleted,
    FeedbackSessionRescheduled,
    FeedbackSessionScheduled,
    InvitationSent,
    ManagementLineChanged,
    RaterDeclined,
    RaterNominated,
    RaterWithdrawn,
    RatingSubmitted,
    ReportGenerated,
    ReportReleased,
    ResponseReceived,
    SelfAssessmentCompleted,
)

INVITATIONS, RATINGS, REPORTS, SCHEDULING = "invitations", "ratings", "reports", "scheduling"
# The HLM Observations journal: no events yet (none of its text may go on Kafka); it holds a
# principal like every service (and may write the dead-letter topic), with no other right.
OBSERVATIONS = "observations"
SERVICES = (INVITATIONS, RATINGS, REPORTS, SCHEDULING, OBSERVATIONS)
EXTERNAL = "external"
PRINCIPALS = (*SERVICES, EXTERNAL)

# event type -> the principals that may write it
WRITERS: Mapping[type[Event], frozenset[str]] = {
    CycleRequested: frozenset({EXTERNAL}),
    CycleOpened: frozenset({INVITATIONS}),
    RaterNominated: frozenset({INVITATIONS}),
    InvitationSent: frozenset({INVITATIONS}),
    RaterWithdrawn: frozenset({INVITATIONS}),
    CycleDeadlineExtended: frozenset({INVITATIONS}),
    CycleCloseRequested: frozenset({INVITATIONS}),
    ManagementLineChanged: frozenset({INVITATIONS}),
    RatingSubmitted: frozenset({RATINGS}),
    ResponseReceived: frozenset({RATINGS}),
    RaterDeclined: frozenset({RATINGS}),
    CycleClosed: frozenset({RATINGS}),
    SelfAssessmentCompleted: frozenset({RATINGS}),
    ReportGenerated: frozenset({REPORTS}),
    ReportReleased: frozenset({REPORTS}),
    FeedbackSessionScheduled: frozenset({SCHEDULING}),
    FeedbackSessionRescheduled: frozenset({SCHEDULING}),
    FeedbackSessionCancelled: frozenset({SCHEDULING}),
    FeedbackSessionCompleted: frozenset({SCHEDULING}),
    FacilitatorRegistered: frozenset({SCHEDULING}),
    FacilitatorAccredited: frozenset({SCHEDULING}),
    FacilitatorStatusChanged: frozenset({SCHEDULING}),
    AvailabilityPublished: frozenset({SCHEDULING}),
}

# event type -> the principals that read it
READERS: Mapping[type[Event], frozenset[str]] = {
    CycleRequested: frozenset({INVITATIONS}),
    CycleOpened: frozenset({RATINGS, REPORTS, SCHEDULING}),
    RaterNominated: frozenset({RATINGS}),
    InvitationSent: frozenset(),
    RaterWithdrawn: frozenset({RATINGS}),
    CycleDeadlineExtended: frozenset({RATINGS}),
    CycleCloseRequested: frozenset({RATINGS}),
    ManagementLineChanged: frozenset({SCHEDULING}),
    RatingSubmitted: frozenset({REPORTS}),  # answers: only the service that compiles the report
    ResponseReceived: frozenset({INVITATIONS}),  # the fact of a response, for progress
    RaterDeclined: frozenset({INVITATIONS}),
    CycleClosed: frozenset({INVITATIONS, REPORTS, EXTERNAL}),
    SelfAssessmentCompleted: frozenset({REPORTS}),
    ReportGenerated: frozenset({SCHEDULING}),
    ReportReleased: frozenset({INVITATIONS, EXTERNAL}),
    FeedbackSessionScheduled: frozenset({REPORTS}),
    FeedbackSessionRescheduled: frozenset({REPORTS}),
    FeedbackSessionCancelled: frozenset({REPORTS}),
    FeedbackSessionCompleted: frozenset({REPORTS, EXTERNAL}),
    FacilitatorRegistered: frozenset({INVITATIONS, REPORTS}),
    FacilitatorAccredited: frozenset({INVITATIONS}),
    FacilitatorStatusChanged: frozenset({INVITATIONS}),
    AvailabilityPublished: frozenset({INVITATIONS}),
}

# Events a service builds without publishing them: invitations turns its start page and API into
# a CycleRequested and handles it in the same transaction (the topic is for other systems).
BUILT_NOT_PUBLISHED: Mapping[str, frozenset[type[Event]]] = {INVITATIONS: frozenset({CycleRequested})}

assert set(WRITERS) == set(READERS) == set(EVENT_TYPES), "every event type needs its writers and readers"


def writes(principal: str) -> list[type[Event]]:
    return [event for event in EVENT_TYPES if principal in WRITERS[event]]


def reads(principal: str) -> list[type[Event]]:
    return [event for event in EVENT_TYPES if principal in READERS[event]]
