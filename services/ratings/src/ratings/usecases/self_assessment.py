"""The free self-assessment: no 360, nothing kept once finished (unfinished drafts expire)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy import delete
from sqlmodel import col, select

from ratings.questionnaire import FieldError, merge_page, parse_form
from ratings.tables import Draft
from ratings.usecases.common import PRODUCER, SELF_ASSESSMENT_DRAFT, delete_draft, event_answers, save_draft
from shared.contracts.events import (
    SelfAssessmentCompleted,
)
from shared.db import UnitOfWork
from shared.links import new_token, token_sha256
from shared.questionnaire import ItemBank

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SelfAssessment:
    found: bool
    answers: dict[str, str] = field(default_factory=dict)
    errors: tuple[FieldError, ...] = ()
    assessment_id: UUID | None = None
    access_token: str | None = None  # only for the redirect to the person's private report


async def start_self_assessment(uow: UnitOfWork, *, now: datetime) -> str:
    """A fresh self-assessment with its own private link; returns the link token (only its hash is stored)."""
    token = new_token()
    await save_draft(uow, token_hash=token_sha256(token), kind=SELF_ASSESSMENT_DRAFT, answers={}, now=now)
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
    await save_draft(uow, token_hash=token_hash, kind=SELF_ASSESSMENT_DRAFT, answers=answers, now=now)
    return SelfAssessment(found=True, answers=answers)


async def complete_self_assessment(uow: UnitOfWork, *, token_hash: str, bank: ItemBank) -> SelfAssessment:
    """Emit the answers for the person's private report under a fresh id and token, and keep nothing."""
    draft = await _self_assessment_draft(uow, token_hash, lock=True)
    if draft is None:
        return SelfAssessment(found=False)
    result = parse_form(bank, draft.answers, self_rating=True)
    if result.submission is None:
        return SelfAssessment(found=True, answers=dict(draft.answers), errors=result.errors)
    answers, importance, comments = event_answers(result.submission)
    assessment_id = uuid4()
    access_token = new_token()
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
    await delete_draft(uow, token_hash)
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


async def _self_assessment_draft(uow: UnitOfWork, token_hash: str, *, lock: bool = False) -> Draft | None:
    statement = select(Draft).where(col(Draft.token_sha256) == token_hash, col(Draft.kind) == SELF_ASSESSMENT_DRAFT)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return (await uow.session.exec(statement)).first()
