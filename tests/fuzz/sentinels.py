"""One valid event of each consumed type, keyed by a given id: sent after the fuzzed messages on the
same partition, it must be handled (applied, or refused as a business rule) within the deadline."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

from deploy.demo.journey import build_request
from shared.contracts.events import (
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
from shared.contracts.vocabulary import RaterGroup, SessionMode
from tests.support import closed_cycle

PRODUCER = "hlm360-fuzz"


def _soon(days: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)


def _request(key: UUID) -> Event:
    return build_request(cycle_id=key, facilitator_id=None, tag=key.hex[:10]).model_copy(update={"producer": PRODUCER})


def _opened(key: UUID) -> Event:
    opened, _, _ = closed_cycle(
        key,
        participant_id=f"FUZZ-{key.hex[:8]}",
        producer=PRODUCER,
        participant_email=f"fuzz.{key.hex[:8]}@example.nhs.uk",
    )
    return opened


def _rating(key: UUID) -> Event:
    _, ratings, _ = closed_cycle(key, participant_id=f"FUZZ-{key.hex[:8]}", producer=PRODUCER)
    return ratings[0]


def _closed(key: UUID) -> Event:
    _, _, closed = closed_cycle(key, participant_id=f"FUZZ-{key.hex[:8]}", producer=PRODUCER)
    return closed


def _self_assessment(key: UUID) -> Event:
    rating = _rating(key)
    assert isinstance(rating, RatingSubmitted)
    return SelfAssessmentCompleted(
        producer=PRODUCER,
        assessment_id=key,
        access_token_sha256=hashlib.sha256(key.bytes).hexdigest(),
        questionnaire_version=rating.questionnaire_version,
        answers=rating.answers,
        importance=rating.importance,
        comments=rating.comments,
    )


def _session(key: UUID) -> dict[str, object]:
    starts = _soon(10)
    return {
        "producer": PRODUCER,
        "cycle_id": key,
        "session_id": uuid4(),
        "facilitator_id": uuid4(),
        "starts_at": starts,
        "ends_at": starts + timedelta(hours=2),
        "mode": SessionMode.VIRTUAL,
    }


SENTINELS: dict[type[Event], Callable[[UUID], Event]] = {
    CycleRequested: _request,
    CycleOpened: _opened,
    RatingSubmitted: _rating,
    CycleClosed: _closed,
    SelfAssessmentCompleted: _self_assessment,
    RaterNominated: lambda key: RaterNominated(
        producer=PRODUCER,
        cycle_id=key,
        rater_id=uuid4(),
        group=RaterGroup.PEER,
        link_token_sha256=hashlib.sha256(key.bytes).hexdigest(),
    ),
    RaterWithdrawn: lambda key: RaterWithdrawn(
        producer=PRODUCER, cycle_id=key, rater_id=uuid4(), group=RaterGroup.PEER, reason="removed"
    ),
    ResponseReceived: lambda key: ResponseReceived(
        producer=PRODUCER, cycle_id=key, rater_id=uuid4(), group=RaterGroup.PEER
    ),
    RaterDeclined: lambda key: RaterDeclined(
        producer=PRODUCER, cycle_id=key, rater_id=uuid4(), group=RaterGroup.PEER, reason="On leave until May."
    ),
    CycleDeadlineExtended: lambda key: CycleDeadlineExtended(producer=PRODUCER, cycle_id=key, deadline=_soon(20)),
    CycleCloseRequested: lambda key: CycleCloseRequested(producer=PRODUCER, cycle_id=key, requested_by="admin"),
    ManagementLineChanged: lambda key: ManagementLineChanged(
        producer=PRODUCER, cycle_id=key, management_line=[f"manager.{key.hex[:8]}@example.nhs.uk"]
    ),
    ReportGenerated: lambda key: ReportGenerated(
        producer=PRODUCER,
        cycle_id=key,
        report_id=uuid4(),
        participant_id=f"FUZZ-{key.hex[:8]}",
        organisation="Fuzz NHS Trust",
        region="London",
    ),
    ReportReleased: lambda key: ReportReleased(
        producer=PRODUCER, cycle_id=key, report_id=uuid4(), reason="released_by_admin"
    ),
    FeedbackSessionScheduled: lambda key: FeedbackSessionScheduled(**_session(key), report_id=uuid4()),
    FeedbackSessionRescheduled: lambda key: FeedbackSessionRescheduled(**_session(key)),
    FeedbackSessionCancelled: lambda key: FeedbackSessionCancelled(
        producer=PRODUCER, cycle_id=key, session_id=uuid4(), reason="admin"
    ),
    FeedbackSessionCompleted: lambda key: FeedbackSessionCompleted(
        producer=PRODUCER,
        cycle_id=key,
        session_id=uuid4(),
        report_id=uuid4(),
        facilitator_id=uuid4(),
        outcome="completed",
    ),
    FacilitatorRegistered: lambda key: FacilitatorRegistered(
        producer=PRODUCER,
        facilitator_id=key,
        name="Fola Fuzz",
        email=f"fola.{key.hex[:8]}@example.nhs.uk",
        region="London",
        organisation="Fuzz Facilitation Trust",
        languages=["en"],
        monthly_capacity=4,
    ),
    FacilitatorAccredited: lambda key: FacilitatorAccredited(
        producer=PRODUCER,
        facilitator_id=key,
        elearning_score=91,
        elearning_passed_on=date(2026, 1, 5),
        course_completed_on=date(2026, 2, 2),
    ),
    FacilitatorStatusChanged: lambda key: FacilitatorStatusChanged(
        producer=PRODUCER, facilitator_id=key, status="active"
    ),
    AvailabilityPublished: lambda key: AvailabilityPublished(
        producer=PRODUCER, facilitator_id=key, free_slots=3, next_free_slot_at=_soon(7), modes=[SessionMode.VIRTUAL]
    ),
}
