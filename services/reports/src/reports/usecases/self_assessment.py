"""The free self-assessment: rendered once when completed, opened with its private token."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select

from reports import domain
from reports.itembank import wording_for
from reports.pages import render_self_assessment
from reports.tables import (
    AccessLog,
    SelfAssessment,
)
from reports.usecases.common import Refused, hmac_equal, lock_key
from shared.contracts.events import (
    SelfAssessmentCompleted,
)
from shared.contracts.vocabulary import RaterGroup
from shared.db import UnitOfWork
from shared.links import token_sha256

log = logging.getLogger(__name__)


async def record_self_assessment(uow: UnitOfWork, event: SelfAssessmentCompleted) -> SelfAssessment | None:
    """Render the person's private self-assessment report once."""
    await uow.session.execute(select(func.pg_advisory_xact_lock(lock_key(event.assessment_id))))
    if await uow.session.get(SelfAssessment, event.assessment_id) is not None:
        return None
    response = domain.Response(
        group=RaterGroup.SELF,
        answers=tuple(domain.Answer(item_id=a.item_id, dimension=a.dimension, score=a.score) for a in event.answers),
        importance={i.dimension: i.score for i in event.importance},
        comments=tuple(domain.Comment(question_id=c.question_id, text=c.text) for c in event.comments),
    )
    figures = domain.self_assessment_figures(
        response, wording=wording_for(event.questionnaire_version, first_person=True)
    )
    rendered = await asyncio.to_thread(render_self_assessment, figures, completed_at=event.occurred_at)
    row = SelfAssessment(
        id=event.assessment_id,
        access_token_sha256=event.access_token_sha256,
        questionnaire_version=event.questionnaire_version,
        completed_at=event.occurred_at,
        figures=figures.as_json(),
        html=rendered.html,
        pdf=rendered.pdf,
    )
    uow.session.add(row)
    log.info("self-assessment report rendered", extra={"assessment_id": str(event.assessment_id)})
    return row


async def open_self_assessment(
    uow: UnitOfWork, *, assessment_id: UUID, token: str, fmt: str, now: datetime
) -> SelfAssessment | Refused | None:
    """The assessment if the token is its own; None while it is still being prepared."""
    row = await uow.session.get(SelfAssessment, assessment_id)
    if row is None:
        outcome: SelfAssessment | Refused | None = None
    elif not hmac_equal(token_sha256(token), row.access_token_sha256):
        outcome = Refused(reason="bad_token", status=404)
    else:
        outcome = row
    uow.session.add(
        AccessLog(
            at=now,
            kind="self_assessment",
            subject_id=assessment_id,
            role="self",
            format=fmt,
            outcome="granted" if isinstance(outcome, SelfAssessment) else "refused",
            reason="ok" if isinstance(outcome, SelfAssessment) else (outcome.reason if outcome else "not_ready"),
        )
    )
    return outcome


def own_figures(row: SelfAssessment) -> domain.SelfAssessmentFigures:
    """The stored figures of a self-assessment, typed again for rendering."""
    return domain.SelfAssessmentFigures.from_json(row.figures)
