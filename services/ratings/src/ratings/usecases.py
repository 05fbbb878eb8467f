"""Use cases of the ratings service. Each runs inside the caller's unit of work; the caller
(a Kafka handler, the HTTP route or the closing job) commits, so one use case is one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select

from ratings.domain import (
    CycleStatus,
    accepts_responses,
    close_reason,
    deadline_passed,
    early_close_reason,
    responses_per_group,
)
from ratings.questionnaire import Submission
from ratings.tables import Cycle, Rater, Response
from shared.contracts.events import (
    CommentAnswer,
    CycleClosed,
    CycleOpened,
    ImportanceAnswer,
    ItemAnswer,
    RaterNominated,
    RatingSubmitted,
)
from shared.contracts.vocabulary import CloseReason, RaterGroup
from shared.db import UnitOfWork
from shared.errors import Rejected

log = logging.getLogger(__name__)

PRODUCER = "ratings"


class Access(StrEnum):
    UNKNOWN = "unknown"
    NOT_OPEN = "not_open"  # rater known, CycleOpened not received yet
    CLOSED = "closed"
    SUBMITTED = "submitted"  # this rater had already submitted
    OPEN = "open"
    ACCEPTED = "accepted"  # this submission was stored


@dataclass(frozen=True)
class RaterAccess:
    access: Access
    group: RaterGroup | None = None
    submitted: bool = False


@dataclass(frozen=True)
class CycleSummary:
    cycle_id: UUID
    status: CycleStatus
    deadline: datetime
    invited_per_group: dict[RaterGroup, int]
    responded_per_group: dict[RaterGroup, int]
    close_reason: CloseReason | None


async def record_cycle_opened(uow: UnitOfWork, event: CycleOpened) -> None:
    """Create the cycle, or update its deadline and invitations while it is open (never reopen one)."""
    invited = {group.value: count for group, count in event.invited_per_group.items()}
    statement = (
        insert(Cycle)
        .values(
            id=event.cycle_id,
            status=CycleStatus.OPEN.value,
            deadline=event.deadline,
            invited_per_group=invited,
            correlation_id=event.correlation_id or event.event_id,
        )
        .on_conflict_do_update(
            index_elements=["id"],
            set_={"deadline": event.deadline, "invited_per_group": invited},
            where=col(Cycle.status) == CycleStatus.OPEN.value,
        )
    )
    await uow.session.execute(statement)
    log.info("cycle recorded", extra={"cycle_id": str(event.cycle_id), "invited": sum(invited.values())})


async def record_rater_nominated(uow: UnitOfWork, event: RaterNominated) -> None:
    """Record a pseudonymous rater and the hash of their link token (before or after CycleOpened)."""
    clash = await uow.session.exec(
        select(Rater.id).where(
            col(Rater.link_token_sha256) == event.link_token_sha256, col(Rater.id) != event.rater_id
        )
    )
    if clash.first() is not None:
        raise Rejected("this link token hash already belongs to another rater")
    rater = await uow.session.get(Rater, event.rater_id)
    if rater is None:
        uow.session.add(
            Rater(
                id=event.rater_id,
                cycle_id=event.cycle_id,
                group=event.group.value,
                link_token_sha256=event.link_token_sha256,
            )
        )
    elif rater.cycle_id != event.cycle_id:
        raise Rejected("this rater id already belongs to another cycle")
    elif rater.submitted_at is None:
        rater.group = event.group.value
        rater.link_token_sha256 = event.link_token_sha256
        uow.session.add(rater)
    log.info("rater recorded", extra={"cycle_id": str(event.cycle_id), "rater_id": str(event.rater_id)})


async def rater_access(uow: UnitOfWork, *, token_hash: str, now: datetime) -> RaterAccess:
    """What the holder of a link may do now: answer, or see why not."""
    rater = await _rater_by_token(uow, token_hash)
    if rater is None:
        return RaterAccess(Access.UNKNOWN)
    group = RaterGroup(rater.group)
    submitted = rater.submitted_at is not None
    cycle = await uow.session.get(Cycle, rater.cycle_id)
    if cycle is None:
        return RaterAccess(Access.NOT_OPEN, group, submitted)
    if not accepts_responses(status=CycleStatus(cycle.status), deadline=cycle.deadline, now=now):
        return RaterAccess(Access.CLOSED, group, submitted)
    if submitted:
        return RaterAccess(Access.SUBMITTED, group, submitted)
    return RaterAccess(Access.OPEN, group, submitted)


async def submit_response(
    uow: UnitOfWork, *, token_hash: str, submission: Submission, questionnaire_version: str, now: datetime
) -> RaterAccess:
    """Store a rater's answers and emit them; close the cycle if that was the last one awaited.

    Returns ACCEPTED when stored, otherwise the reason nothing was stored."""
    rater = await _rater_by_token(uow, token_hash)
    if rater is None:
        return RaterAccess(Access.UNKNOWN)
    group = RaterGroup(rater.group)
    # Every submission of a cycle serialises on the cycle row, so the "last response closes the
    # cycle" check sees all earlier responses and CycleClosed is emitted once.
    cycle = await _lock_cycle(uow, rater.cycle_id)
    if cycle is None:
        return RaterAccess(Access.NOT_OPEN, group)
    await uow.session.refresh(rater)
    submitted = rater.submitted_at is not None
    if cycle.status != CycleStatus.OPEN.value:
        return RaterAccess(Access.CLOSED, group, submitted)
    if deadline_passed(deadline=cycle.deadline, now=now):
        await _close(uow, cycle, reason=CloseReason.DEADLINE_PASSED, now=now)
        return RaterAccess(Access.CLOSED, group, submitted)
    if submitted:
        return RaterAccess(Access.SUBMITTED, group, submitted)

    answers = [ItemAnswer(item_id=a.item_id, dimension=a.dimension, score=a.score) for a in submission.answers]
    importance = [ImportanceAnswer(dimension=d, score=s) for d, s in submission.importance]
    comments = [CommentAnswer(question_id=q, text=t) for q, t in submission.comments]
    uow.session.add(
        Response(
            id=uuid4(),
            rater_id=rater.id,
            cycle_id=cycle.id,
            group=group.value,
            questionnaire_version=questionnaire_version,
            answers=[a.model_dump(mode="json") for a in answers],
            importance=[i.model_dump(mode="json") for i in importance],
            comments=[c.model_dump(mode="json") for c in comments],
            submitted_at=now,
        )
    )
    rater.submitted_at = now
    uow.session.add(rater)
    await uow.session.flush()
    uow.emit(
        RatingSubmitted(
            producer=PRODUCER,
            correlation_id=cycle.correlation_id,
            cycle_id=cycle.id,
            rater_id=rater.id,
            group=group,
            questionnaire_version=questionnaire_version,
            answers=answers,
            importance=importance,
            comments=comments,
        )
    )
    log.info("response stored", extra={"cycle_id": str(cycle.id), "rater_id": str(rater.id)})
    reason = close_reason(
        invited_per_group=_invited(cycle),
        responded_per_group=await _responded_per_group(uow, cycle.id),
        deadline=cycle.deadline,
        now=now,
    )
    if reason is not None:
        await _close(uow, cycle, reason=reason, now=now)
    return RaterAccess(Access.ACCEPTED, group, submitted=True)


async def close_next_due_cycle(uow: UnitOfWork, *, now: datetime) -> UUID | None:
    """Close one open cycle whose deadline has passed; other instances skip the one locked here."""
    statement = (
        select(Cycle)
        .where(col(Cycle.status) == CycleStatus.OPEN.value, col(Cycle.deadline) <= now)
        .order_by(col(Cycle.deadline))
        .limit(1)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    cycle = (await uow.session.exec(statement)).first()
    if cycle is None:
        return None
    reason = close_reason(
        invited_per_group=_invited(cycle),
        responded_per_group=await _responded_per_group(uow, cycle.id),
        deadline=cycle.deadline,
        now=now,
    )
    await _close(uow, cycle, reason=reason or CloseReason.DEADLINE_PASSED, now=now)
    return cycle.id


async def close_cycle_early(uow: UnitOfWork, *, cycle_id: UUID, now: datetime) -> CycleSummary | None:
    """Close a cycle before its deadline; closing a closed cycle changes nothing. None if unknown."""
    cycle = await _lock_cycle(uow, cycle_id)
    if cycle is None:
        return None
    if cycle.status == CycleStatus.OPEN.value:
        reason = early_close_reason(
            invited_per_group=_invited(cycle),
            responded_per_group=await _responded_per_group(uow, cycle.id),
            deadline=cycle.deadline,
            now=now,
        )
        await _close(uow, cycle, reason=reason, now=now)
    return await _summary(uow, cycle)


async def cycle_summary(uow: UnitOfWork, *, cycle_id: UUID) -> CycleSummary | None:
    """Counts only: never anything about an individual rater or response."""
    cycle = await uow.session.get(Cycle, cycle_id)
    return None if cycle is None else await _summary(uow, cycle)


async def _rater_by_token(uow: UnitOfWork, token_hash: str) -> Rater | None:
    return (await uow.session.exec(select(Rater).where(col(Rater.link_token_sha256) == token_hash))).first()


async def _lock_cycle(uow: UnitOfWork, cycle_id: UUID) -> Cycle | None:
    statement = (
        select(Cycle)
        .where(col(Cycle.id) == cycle_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await uow.session.exec(statement)).first()


def _invited(cycle: Cycle) -> dict[RaterGroup, int]:
    return {RaterGroup(group): count for group, count in cycle.invited_per_group.items()}


async def _responded_per_group(uow: UnitOfWork, cycle_id: UUID) -> dict[RaterGroup, int]:
    rows = await uow.session.exec(
        select(Response.group, func.count()).where(col(Response.cycle_id) == cycle_id).group_by(col(Response.group))
    )
    return {RaterGroup(group): count for group, count in rows.all()}


async def _close(uow: UnitOfWork, cycle: Cycle, *, reason: CloseReason, now: datetime) -> None:
    responded = responses_per_group(
        invited_per_group=_invited(cycle), responded_per_group=await _responded_per_group(uow, cycle.id)
    )
    cycle.status = CycleStatus.CLOSED.value
    cycle.closed_at = now
    cycle.close_reason = reason.value
    uow.session.add(cycle)
    uow.emit(
        CycleClosed(
            producer=PRODUCER,
            correlation_id=cycle.correlation_id,
            cycle_id=cycle.id,
            reason=reason,
            responses_per_group=responded,
        )
    )
    log.info(
        "cycle closed",
        extra={"cycle_id": str(cycle.id), "reason": reason.value, "responses": sum(responded.values())},
    )


async def _summary(uow: UnitOfWork, cycle: Cycle) -> CycleSummary:
    invited = _invited(cycle)
    return CycleSummary(
        cycle_id=cycle.id,
        status=CycleStatus(cycle.status),
        deadline=cycle.deadline,
        invited_per_group=invited,
        responded_per_group=responses_per_group(
            invited_per_group=invited, responded_per_group=await _responded_per_group(uow, cycle.id)
        ),
        close_reason=CloseReason(cycle.close_reason) if cycle.close_reason else None,
    )
