"""What several use cases share: who a link belongs to, the cycle lock, drafts, and the answers of an event."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select

from ratings.questionnaire import FieldError, Submission
from ratings.tables import Cycle, Draft, Rater
from shared.contracts.events import (
    CommentAnswer,
    ImportanceAnswer,
    ItemAnswer,
)
from shared.contracts.vocabulary import RaterGroup
from shared.db import UnitOfWork

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


async def rater_by_token(uow: UnitOfWork, token_hash: str) -> Rater | None:
    return (await uow.session.exec(select(Rater).where(col(Rater.link_token_sha256) == token_hash))).first()


@dataclass(frozen=True)
class LockedRater:
    """A link's rater with its cycle locked (the rater re-read under the lock)."""

    rater: Rater
    cycle: Cycle
    group: RaterGroup
    submitted: bool

    def already_answered(self) -> RaterAccess | None:
        """SUBMITTED or DECLINED if this rater has already answered, else None."""
        if self.submitted:
            return RaterAccess(Access.SUBMITTED, self.group, self.submitted)
        if self.rater.declined_at is not None:
            return RaterAccess(Access.DECLINED, self.group)
        return None


async def lock_rater(uow: UnitOfWork, token_hash: str) -> LockedRater | RaterAccess:
    """The link's rater with its cycle locked, or why there is no one to act for: an unknown link,
    a cycle not opened yet, or a withdrawn link."""
    rater = await rater_by_token(uow, token_hash)
    if rater is None:
        return RaterAccess(Access.UNKNOWN)
    group = RaterGroup(rater.group)
    cycle = await lock_cycle(uow, rater.cycle_id)
    if cycle is None:
        return RaterAccess(Access.NOT_OPEN, group)
    await uow.session.refresh(rater)
    submitted = rater.submitted_at is not None
    if rater.withdrawn_at is not None:
        return RaterAccess(Access.WITHDRAWN, group, submitted)
    return LockedRater(rater, cycle, group, submitted)


async def lock_cycle(uow: UnitOfWork, cycle_id: UUID) -> Cycle | None:
    statement = (
        select(Cycle).where(col(Cycle.id) == cycle_id).with_for_update().execution_options(populate_existing=True)
    )
    return (await uow.session.exec(statement)).first()


async def save_draft(uow: UnitOfWork, *, token_hash: str, kind: str, answers: dict[str, str], now: datetime) -> None:
    statement = insert(Draft).values(
        token_sha256=token_hash, kind=kind, answers=answers, created_at=now, updated_at=now
    )
    statement = statement.on_conflict_do_update(
        index_elements=["token_sha256"], set_={"answers": answers, "updated_at": now}
    )
    await uow.session.execute(statement)


async def delete_draft(uow: UnitOfWork, token_hash: str) -> None:
    await uow.session.execute(delete(Draft).where(col(Draft.token_sha256) == token_hash))


async def move_draft(uow: UnitOfWork, *, old: str, new: str) -> None:
    """A rater's link changed: their unfinished answers are kept under the new link's hash."""
    await uow.session.execute(update(Draft).where(col(Draft.token_sha256) == old).values(token_sha256=new))


def event_answers(submission: Submission) -> tuple[list[ItemAnswer], list[ImportanceAnswer], list[CommentAnswer]]:
    return (
        [ItemAnswer(item_id=a.item_id, dimension=a.dimension, score=a.score) for a in submission.answers],
        [ImportanceAnswer(dimension=d, score=s) for d, s in submission.importance],
        [CommentAnswer(question_id=q, text=t) for q, t in submission.comments],
    )
