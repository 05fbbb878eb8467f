"""Use cases of the ratings service. Each runs inside the caller's unit of work; the caller
(a Kafka handler, the HTTP route or a job) commits, so one use case is one transaction.

Everything that changes whether a cycle is complete (a submission, a decline, a withdrawal, an
early close, the deadline job) first takes `SELECT … FOR UPDATE` on the cycle row, so a cycle's
changes are serialised: the last one sees all earlier ones, and `CycleClosed` is emitted once."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid4

from sqlalchemy import delete, func
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select

from ratings.domain import (
    CycleStatus,
    accepts_responses,
    close_reason,
    deadline_passed,
    early_close_reason,
    expected_answers,
    extension_applies,
    responses_per_group,
    token_sha256,
)
from ratings.questionnaire import FieldError, Submission, merge_page, parse_form
from ratings.tables import Cycle, Draft, Rater, Response
from shared.contracts.events import (
    CommentAnswer,
    CycleClosed,
    CycleCloseRequested,
    CycleDeadlineExtended,
    CycleOpened,
    ImportanceAnswer,
    ItemAnswer,
    RaterDeclined,
    RaterNominated,
    RaterWithdrawn,
    RatingSubmitted,
    SelfAssessmentCompleted,
)
from shared.contracts.vocabulary import CloseReason, RaterGroup
from shared.db import UnitOfWork
from shared.errors import Rejected
from shared.questionnaire import ItemBank

log = logging.getLogger(__name__)

PRODUCER = "ratings"
RATER_DRAFT = "rater"
SELF_ASSESSMENT_DRAFT = "self_assessment"


class Access(StrEnum):
    UNKNOWN = "unknown"
    NOT_OPEN = "not_open"  # rater known, CycleOpened not received yet
    WITHDRAWN = "withdrawn"  # the link was revoked (bounced, replaced or removed)
    CLOSED = "closed"
    SUBMITTED = "submitted"  # this rater had already submitted
    DECLINED = "declined"  # this rater had already declined
    OPEN = "open"
    INCOMPLETE = "incomplete"  # sending was refused: answers missing or invalid
    ACCEPTED = "accepted"  # this submission or decline was stored


@dataclass(frozen=True)
class RaterAccess:
    access: Access
    group: RaterGroup | None = None
    submitted: bool = False
    participant_name: str | None = None
    answers: dict[str, str] = field(default_factory=dict)
    errors: tuple[FieldError, ...] = ()


@dataclass(frozen=True)
class CycleSummary:
    cycle_id: UUID
    status: CycleStatus
    deadline: datetime
    invited_per_group: dict[RaterGroup, int]
    responded_per_group: dict[RaterGroup, int]
    expected: int
    declined: int
    close_reason: CloseReason | None


@dataclass(frozen=True)
class Progress:
    expected: int
    answered: int  # submitted or declined
    declined: int


# --- events in ---------------------------------------------------------------------------------


async def record_cycle_opened(uow: UnitOfWork, event: CycleOpened) -> None:
    """Create the cycle, or update it while it is open (never reopen one, never move a deadline earlier)."""
    invited = {group.value: count for group, count in event.invited_per_group.items()}
    statement = insert(Cycle).values(
        id=event.cycle_id,
        status=CycleStatus.OPEN.value,
        deadline=event.deadline,
        invited_per_group=invited,
        correlation_id=event.correlation_id or event.event_id,
        participant_name=event.participant_name,
    )
    statement = statement.on_conflict_do_update(
        index_elements=["id"],
        set_={
            # A repeated CycleOpened must not undo a deadline extension that came after it.
            "deadline": func.greatest(col(Cycle.deadline), statement.excluded.deadline),
            "invited_per_group": invited,
            "participant_name": event.participant_name,
        },
        where=col(Cycle.status) == CycleStatus.OPEN.value,
    )
    await uow.session.execute(statement)
    log.info("cycle recorded", extra={"cycle_id": str(event.cycle_id), "invited": sum(invited.values())})


async def record_rater_nominated(uow: UnitOfWork, event: RaterNominated) -> None:
    """Record a pseudonymous rater and the hash of their link token (before or after CycleOpened).

    A replacement takes the place of the rater it replaces: that one is withdrawn (unless they had
    already submitted, in which case the replacement is one more expected rater)."""
    await _lock_cycle(uow, event.cycle_id)
    clash = await uow.session.exec(
        select(Rater.id).where(col(Rater.link_token_sha256) == event.link_token_sha256, col(Rater.id) != event.rater_id)
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
                replaces_rater_id=event.replaces_rater_id,
            )
        )
    elif rater.cycle_id != event.cycle_id:
        raise Rejected("this rater id already belongs to another cycle")
    elif rater.submitted_at is None:
        # Also fills in a withdrawal that arrived before the nomination: its link stays revoked.
        rater.group = event.group.value
        rater.link_token_sha256 = event.link_token_sha256
        rater.replaces_rater_id = rater.replaces_rater_id or event.replaces_rater_id
        uow.session.add(rater)
    if event.replaces_rater_id is not None:
        replaced = await uow.session.get(Rater, event.replaces_rater_id)
        if replaced is not None and replaced.cycle_id == event.cycle_id:
            await _withdraw(uow, replaced, now=event.occurred_at)
    log.info("rater recorded", extra={"cycle_id": str(event.cycle_id), "rater_id": str(event.rater_id)})


async def record_rater_withdrawn(uow: UnitOfWork, event: RaterWithdrawn, *, now: datetime) -> None:
    """A rater no longer counts: their link stops working, and the cycle may now be complete."""
    cycle = await _lock_cycle(uow, event.cycle_id)
    rater = await uow.session.get(Rater, event.rater_id)
    if rater is None:
        # The withdrawal overtook the nomination (another topic): remember it without a link.
        rater = Rater(id=event.rater_id, cycle_id=event.cycle_id, group=event.group.value, link_token_sha256=None)
        uow.session.add(rater)
    elif rater.cycle_id != event.cycle_id:
        raise Rejected("this rater id belongs to another cycle")
    await _withdraw(uow, rater, now=now)
    log.info("rater withdrawn", extra={"cycle_id": str(event.cycle_id), "rater_id": str(event.rater_id)})
    if cycle is not None:
        await _close_if_complete(uow, cycle, now=now)


async def extend_deadline(uow: UnitOfWork, event: CycleDeadlineExtended) -> None:
    """Move an open cycle's deadline; an extension made after the old deadline, or for a closed cycle, is ignored."""
    cycle = await _lock_cycle(uow, event.cycle_id)
    if cycle is None:
        raise Rejected("cycle not known to ratings (CycleOpened not received)")
    if not extension_applies(status=CycleStatus(cycle.status), deadline=cycle.deadline, extended_at=event.occurred_at):
        log.info("deadline extension ignored", extra={"cycle_id": str(cycle.id), "status": cycle.status})
        return
    cycle.deadline = event.deadline
    uow.session.add(cycle)
    log.info("deadline extended", extra={"cycle_id": str(cycle.id)})


async def close_on_request(uow: UnitOfWork, event: CycleCloseRequested, *, now: datetime) -> None:
    """The participant or an admin asked to close the cycle now (idempotent)."""
    if await close_cycle_early(uow, cycle_id=event.cycle_id, now=now) is None:
        raise Rejected("cycle not known to ratings (CycleOpened not received)")


# --- the rater's link --------------------------------------------------------------------------


async def rater_access(uow: UnitOfWork, *, token_hash: str, now: datetime) -> RaterAccess:
    """What the holder of a link may do now, with their saved draft when they may answer."""
    rater = await _rater_by_token(uow, token_hash)
    if rater is None:
        return RaterAccess(Access.UNKNOWN)
    group = RaterGroup(rater.group)
    submitted = rater.submitted_at is not None
    if rater.withdrawn_at is not None:
        return RaterAccess(Access.WITHDRAWN, group, submitted)
    cycle = await uow.session.get(Cycle, rater.cycle_id)
    if cycle is None:
        return RaterAccess(Access.NOT_OPEN, group, submitted)
    if not accepts_responses(status=CycleStatus(cycle.status), deadline=cycle.deadline, now=now):
        return RaterAccess(Access.CLOSED, group, submitted)
    if submitted:
        return RaterAccess(Access.SUBMITTED, group, submitted)
    if rater.declined_at is not None:
        return RaterAccess(Access.DECLINED, group)
    draft = await uow.session.get(Draft, token_hash)
    return RaterAccess(
        Access.OPEN, group, participant_name=cycle.participant_name, answers=dict(draft.answers) if draft else {}
    )


async def save_rater_page(
    uow: UnitOfWork, *, token_hash: str, bank: ItemBank, page: int | str, posted: Mapping[str, str], now: datetime
) -> RaterAccess:
    """Save one page's answers into the rater's draft; returns the access with the merged answers."""
    access = await rater_access(uow, token_hash=token_hash, now=now)
    if access.access is not Access.OPEN:
        return access
    answers = merge_page(bank, page, access.answers, posted)
    await _save_draft(uow, token_hash=token_hash, kind=RATER_DRAFT, answers=answers, now=now)
    return RaterAccess(Access.OPEN, access.group, participant_name=access.participant_name, answers=answers)


async def submit_response(uow: UnitOfWork, *, token_hash: str, bank: ItemBank, now: datetime) -> RaterAccess:
    """Send the rater's saved answers: store and emit them, delete the draft, close the cycle if it was the last.

    Returns ACCEPTED when stored, INCOMPLETE with the errors when answers are missing, otherwise why not.
    At the deadline: a submission whose transaction holds the cycle lock before the deadline counts;
    one that gets the lock at or after the deadline is refused and closes the cycle itself."""
    rater = await _rater_by_token(uow, token_hash)
    if rater is None:
        return RaterAccess(Access.UNKNOWN)
    group = RaterGroup(rater.group)
    cycle = await _lock_cycle(uow, rater.cycle_id)
    if cycle is None:
        return RaterAccess(Access.NOT_OPEN, group)
    await uow.session.refresh(rater)
    submitted = rater.submitted_at is not None
    if rater.withdrawn_at is not None:
        return RaterAccess(Access.WITHDRAWN, group, submitted)
    if cycle.status != CycleStatus.OPEN.value:
        return RaterAccess(Access.CLOSED, group, submitted)
    if deadline_passed(deadline=cycle.deadline, now=now):
        await _close(uow, cycle, reason=CloseReason.DEADLINE_PASSED, now=now)
        return RaterAccess(Access.CLOSED, group, submitted)
    if submitted:
        return RaterAccess(Access.SUBMITTED, group, submitted)
    if rater.declined_at is not None:
        return RaterAccess(Access.DECLINED, group)
    draft = await uow.session.get(Draft, token_hash)
    answers = dict(draft.answers) if draft else {}
    result = parse_form(bank, answers, self_rating=group is RaterGroup.SELF)
    if result.submission is None:
        return RaterAccess(
            Access.INCOMPLETE, group, participant_name=cycle.participant_name, answers=answers, errors=result.errors
        )
    answer_list, importance, comments = _answers(result.submission)
    uow.session.add(
        Response(
            id=uuid4(),
            rater_id=rater.id,
            cycle_id=cycle.id,
            group=group.value,
            questionnaire_version=bank.version,
            answers=[a.model_dump(mode="json") for a in answer_list],
            importance=[i.model_dump(mode="json") for i in importance],
            comments=[c.model_dump(mode="json") for c in comments],
            submitted_at=now,
        )
    )
    rater.submitted_at = now
    uow.session.add(rater)
    await _delete_draft(uow, token_hash)
    await uow.session.flush()
    uow.emit(
        RatingSubmitted(
            producer=PRODUCER,
            correlation_id=cycle.correlation_id,
            cycle_id=cycle.id,
            rater_id=rater.id,
            group=group,
            questionnaire_version=bank.version,
            answers=answer_list,
            importance=importance,
            comments=comments,
        )
    )
    log.info("response stored", extra={"cycle_id": str(cycle.id), "rater_id": str(rater.id)})
    await _close_if_complete(uow, cycle, now=now)
    return RaterAccess(Access.ACCEPTED, group, submitted=True)


async def decline(uow: UnitOfWork, *, token_hash: str, reason: str | None, now: datetime) -> RaterAccess:
    """The rater declines to give feedback: emit RaterDeclined, forget any draft; it counts as answered."""
    rater = await _rater_by_token(uow, token_hash)
    if rater is None:
        return RaterAccess(Access.UNKNOWN)
    group = RaterGroup(rater.group)
    cycle = await _lock_cycle(uow, rater.cycle_id)
    if cycle is None:
        return RaterAccess(Access.NOT_OPEN, group)
    await uow.session.refresh(rater)
    submitted = rater.submitted_at is not None
    if rater.withdrawn_at is not None:
        return RaterAccess(Access.WITHDRAWN, group, submitted)
    if not accepts_responses(status=CycleStatus(cycle.status), deadline=cycle.deadline, now=now):
        return RaterAccess(Access.CLOSED, group, submitted)
    if submitted:
        return RaterAccess(Access.SUBMITTED, group, submitted)
    if rater.declined_at is not None:
        return RaterAccess(Access.DECLINED, group)
    rater.declined_at = now
    uow.session.add(rater)
    await _delete_draft(uow, token_hash)
    uow.emit(
        RaterDeclined(
            producer=PRODUCER,
            correlation_id=cycle.correlation_id,
            cycle_id=cycle.id,
            rater_id=rater.id,
            group=group,
            reason=reason or None,
        )
    )
    log.info("rater declined", extra={"cycle_id": str(cycle.id), "rater_id": str(rater.id)})
    await _close_if_complete(uow, cycle, now=now)
    return RaterAccess(Access.ACCEPTED, group)


# --- closing -----------------------------------------------------------------------------------


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
    progress = await _progress(uow, cycle)
    reason = close_reason(expected=progress.expected, answered=progress.answered, deadline=cycle.deadline, now=now)
    await _close(uow, cycle, reason=reason or CloseReason.DEADLINE_PASSED, now=now)
    return cycle.id


async def close_cycle_early(uow: UnitOfWork, *, cycle_id: UUID, now: datetime) -> CycleSummary | None:
    """Close a cycle before its deadline; closing a closed cycle changes nothing. None if unknown."""
    cycle = await _lock_cycle(uow, cycle_id)
    if cycle is None:
        return None
    if cycle.status == CycleStatus.OPEN.value:
        progress = await _progress(uow, cycle)
        reason = early_close_reason(
            expected=progress.expected, answered=progress.answered, deadline=cycle.deadline, now=now
        )
        await _close(uow, cycle, reason=reason, now=now)
    return await _summary(uow, cycle)


async def cycle_summary(uow: UnitOfWork, *, cycle_id: UUID) -> CycleSummary | None:
    """Counts only: never anything about an individual rater or response."""
    cycle = await uow.session.get(Cycle, cycle_id)
    return None if cycle is None else await _summary(uow, cycle)


# --- the free self-assessment (no 360, nothing kept once finished) -----------------------------


@dataclass(frozen=True)
class SelfAssessment:
    found: bool
    answers: dict[str, str] = field(default_factory=dict)
    errors: tuple[FieldError, ...] = ()
    assessment_id: UUID | None = None
    access_token: str | None = None  # only for the redirect to the person's private report


def new_link_token() -> str:
    """256 bits from the OS's CSPRNG, URL-safe."""
    return secrets.token_urlsafe(32)


async def start_self_assessment(uow: UnitOfWork, *, now: datetime) -> str:
    """A fresh self-assessment with its own private link; returns the link token (only its hash is stored)."""
    token = new_link_token()
    await _save_draft(uow, token_hash=token_sha256(token), kind=SELF_ASSESSMENT_DRAFT, answers={}, now=now)
    return token


async def self_assessment(uow: UnitOfWork, *, token_hash: str) -> SelfAssessment:
    draft = await _self_assessment_draft(uow, token_hash)
    return SelfAssessment(found=False) if draft is None else SelfAssessment(found=True, answers=dict(draft.answers))


async def save_self_assessment_page(
    uow: UnitOfWork, *, token_hash: str, bank: ItemBank, page: int | str, posted: Mapping[str, str], now: datetime
) -> SelfAssessment:
    draft = await _self_assessment_draft(uow, token_hash, lock=True)
    if draft is None:
        return SelfAssessment(found=False)
    answers = merge_page(bank, page, draft.answers, posted)
    await _save_draft(uow, token_hash=token_hash, kind=SELF_ASSESSMENT_DRAFT, answers=answers, now=now)
    return SelfAssessment(found=True, answers=answers)


async def complete_self_assessment(uow: UnitOfWork, *, token_hash: str, bank: ItemBank) -> SelfAssessment:
    """Emit the answers for the person's private report under a fresh id and token, and keep nothing."""
    draft = await _self_assessment_draft(uow, token_hash, lock=True)
    if draft is None:
        return SelfAssessment(found=False)
    result = parse_form(bank, draft.answers, self_rating=True)
    if result.submission is None:
        return SelfAssessment(found=True, answers=dict(draft.answers), errors=result.errors)
    answers, importance, comments = _answers(result.submission)
    assessment_id = uuid4()
    access_token = new_link_token()
    uow.emit(
        SelfAssessmentCompleted(
            producer=PRODUCER,
            assessment_id=assessment_id,
            access_token_sha256=token_sha256(access_token),
            questionnaire_version=bank.version,
            answers=answers,
            importance=importance,
            comments=comments,
        )
    )
    await _delete_draft(uow, token_hash)
    log.info("self-assessment completed", extra={"assessment_id": str(assessment_id)})
    return SelfAssessment(found=True, assessment_id=assessment_id, access_token=access_token)


async def delete_stale_self_assessments(uow: UnitOfWork, *, older_than: timedelta, now: datetime) -> int:
    """Unfinished self-assessments are not kept for ever."""
    result = await uow.session.execute(
        delete(Draft).where(col(Draft.kind) == SELF_ASSESSMENT_DRAFT, col(Draft.updated_at) < now - older_than)
    )
    deleted = int(getattr(result, "rowcount", 0) or 0)
    if deleted:
        log.info("stale self-assessment drafts deleted", extra={"count": deleted})
    return deleted


# --- helpers -----------------------------------------------------------------------------------


def _answers(submission: Submission) -> tuple[list[ItemAnswer], list[ImportanceAnswer], list[CommentAnswer]]:
    return (
        [ItemAnswer(item_id=a.item_id, dimension=a.dimension, score=a.score) for a in submission.answers],
        [ImportanceAnswer(dimension=d, score=s) for d, s in submission.importance],
        [CommentAnswer(question_id=q, text=t) for q, t in submission.comments],
    )


async def _rater_by_token(uow: UnitOfWork, token_hash: str) -> Rater | None:
    return (await uow.session.exec(select(Rater).where(col(Rater.link_token_sha256) == token_hash))).first()


async def _lock_cycle(uow: UnitOfWork, cycle_id: UUID) -> Cycle | None:
    statement = (
        select(Cycle).where(col(Cycle.id) == cycle_id).with_for_update().execution_options(populate_existing=True)
    )
    return (await uow.session.exec(statement)).first()


async def _withdraw(uow: UnitOfWork, rater: Rater, *, now: datetime) -> None:
    """A submitted response stays (it has already been sent on); otherwise the link is revoked."""
    if rater.submitted_at is not None or rater.withdrawn_at is not None:
        return
    rater.withdrawn_at = now
    uow.session.add(rater)
    if rater.link_token_sha256 is not None:
        await _delete_draft(uow, rater.link_token_sha256)


async def _save_draft(uow: UnitOfWork, *, token_hash: str, kind: str, answers: dict[str, str], now: datetime) -> None:
    statement = insert(Draft).values(
        token_sha256=token_hash, kind=kind, answers=answers, created_at=now, updated_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=["token_sha256"], set_={"answers": answers, "updated_at": now}
    )
    await uow.session.execute(statement)


async def _delete_draft(uow: UnitOfWork, token_hash: str) -> None:
    await uow.session.execute(delete(Draft).where(col(Draft.token_sha256) == token_hash))


async def _self_assessment_draft(uow: UnitOfWork, token_hash: str, *, lock: bool = False) -> Draft | None:
    statement = select(Draft).where(col(Draft.token_sha256) == token_hash, col(Draft.kind) == SELF_ASSESSMENT_DRAFT)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return (await uow.session.exec(statement)).first()


def _invited(cycle: Cycle) -> dict[RaterGroup, int]:
    return {RaterGroup(group): count for group, count in cycle.invited_per_group.items()}


async def _progress(uow: UnitOfWork, cycle: Cycle) -> Progress:
    withdrawn = col(Rater.withdrawn_at).is_not(None)
    row = (
        await uow.session.exec(
            select(
                func.count().filter(col(Rater.replaces_rater_id).is_not(None)),
                func.count().filter(withdrawn, col(Rater.submitted_at).is_(None)),
                func.count().filter(col(Rater.submitted_at).is_not(None)),
                func.count().filter(col(Rater.declined_at).is_not(None), ~withdrawn, col(Rater.submitted_at).is_(None)),
            ).where(col(Rater.cycle_id) == cycle.id)
        )
    ).one()
    replacements, withdrawn_count, submitted, declined = (int(v) for v in row)
    expected = expected_answers(
        invited=sum(_invited(cycle).values()), replacements=replacements, withdrawn=withdrawn_count
    )
    return Progress(expected=expected, answered=submitted + declined, declined=declined)


async def _close_if_complete(uow: UnitOfWork, cycle: Cycle, *, now: datetime) -> None:
    """Close the (locked) cycle if everyone expected has now submitted or declined."""
    if cycle.status != CycleStatus.OPEN.value:
        return
    progress = await _progress(uow, cycle)
    reason = close_reason(expected=progress.expected, answered=progress.answered, deadline=cycle.deadline, now=now)
    if reason is not None:
        await _close(uow, cycle, reason=reason, now=now)


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
    # Unsent answers of this cycle are never needed again: do not keep them.
    raters = select(Rater.link_token_sha256).where(col(Rater.cycle_id) == cycle.id)
    await uow.session.execute(delete(Draft).where(col(Draft.token_sha256).in_(raters)))
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
    progress = await _progress(uow, cycle)
    return CycleSummary(
        cycle_id=cycle.id,
        status=CycleStatus(cycle.status),
        deadline=cycle.deadline,
        invited_per_group=invited,
        responded_per_group=responses_per_group(
            invited_per_group=invited, responded_per_group=await _responded_per_group(uow, cycle.id)
        ),
        expected=progress.expected,
        declined=progress.declined,
        close_reason=CloseReason(cycle.close_reason) if cycle.close_reason else None,
    )
