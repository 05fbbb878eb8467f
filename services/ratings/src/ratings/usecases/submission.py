"""The rater's questionnaire: what their link may do now, the saved draft, and sending the answers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from uuid import uuid4

from ratings.domain import (
    CycleStatus,
    accepts_responses,
    deadline_passed,
)
from ratings.questionnaire import Submission, merge_page, parse_form
from ratings.tables import Cycle, Draft, Rater, Response
from ratings.usecases.common import (
    PRODUCER,
    RATER_DRAFT,
    Access,
    RaterAccess,
    delete_draft,
    event_answers,
    lock_rater,
    rater_by_token,
    save_draft,
)
from ratings.usecases.cycles import close_if_complete, close_locked_cycle
from shared.contracts.events import (
    RatingSubmitted,
    ResponseReceived,
)
from shared.contracts.vocabulary import CloseReason, RaterGroup
from shared.db import UnitOfWork
from shared.questionnaire import ItemBank

log = logging.getLogger(__name__)


async def rater_access(uow: UnitOfWork, *, token_hash: str, now: datetime) -> RaterAccess:
    """What the holder of a link may do now, with their saved draft when they may answer."""
    rater = await rater_by_token(uow, token_hash)
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
    await save_draft(uow, token_hash=token_hash, kind=RATER_DRAFT, answers=answers, now=now)
    return RaterAccess(Access.OPEN, access.group, participant_name=access.participant_name, answers=answers)


async def submit_response(uow: UnitOfWork, *, token_hash: str, bank: ItemBank, now: datetime) -> RaterAccess:
    """Send the rater's saved answers: store and emit them, delete the draft, close the cycle if it was the last.

    Returns ACCEPTED when stored, INCOMPLETE with the errors when answers are missing, otherwise why not.
    At the deadline: a submission whose transaction holds the cycle lock before the deadline counts;
    one that gets the lock at or after the deadline is refused and closes the cycle itself."""
    locked = await lock_rater(uow, token_hash)
    if isinstance(locked, RaterAccess):
        return locked
    rater, cycle, group, submitted = locked.rater, locked.cycle, locked.group, locked.submitted
    if cycle.status != CycleStatus.OPEN.value:
        return RaterAccess(Access.CLOSED, group, submitted)
    if deadline_passed(deadline=cycle.deadline, now=now):
        await close_locked_cycle(uow, cycle, reason=CloseReason.DEADLINE_PASSED, now=now)
        return RaterAccess(Access.CLOSED, group, submitted)
    if (answered := locked.already_answered()) is not None:
        return answered
    draft = await uow.session.get(Draft, token_hash)
    answers = dict(draft.answers) if draft else {}
    result = parse_form(bank, answers, self_rating=group is RaterGroup.SELF)
    if result.submission is None:
        return RaterAccess(
            Access.INCOMPLETE, group, participant_name=cycle.participant_name, answers=answers, errors=result.errors
        )
    await _store(uow, rater=rater, cycle=cycle, submission=result.submission, bank=bank, now=now)
    await delete_draft(uow, token_hash)
    await uow.session.flush()
    log.info("response stored", extra={"cycle_id": str(cycle.id), "rater_id": str(rater.id)})
    await close_if_complete(uow, cycle, now=now)
    return RaterAccess(Access.ACCEPTED, group, submitted=True)


async def _store(
    uow: UnitOfWork, *, rater: Rater, cycle: Cycle, submission: Submission, bank: ItemBank, now: datetime
) -> None:
    """Store the response, mark the rater as having sent it and emit RatingSubmitted (the answers, for
    reports) and ResponseReceived (the fact only, for invitations), in this one transaction."""
    group = RaterGroup(rater.group)
    answer_list, importance, comments = event_answers(submission)
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
    uow.emit(
        ResponseReceived(
            producer=PRODUCER, correlation_id=cycle.correlation_id, cycle_id=cycle.id, rater_id=rater.id, group=group
        )
    )
