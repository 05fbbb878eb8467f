"""Opening a report through its signed link: the access rules, and an audit row for every attempt."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, select
from sqlmodel import col

from reports import domain, links
from reports.config import Settings
from reports.pages import ReportMeta
from reports.tables import (
    AccessLog,
    Cycle,
    FeedbackSession,
    Report,
)
from reports.usecases.common import Refused
from shared.db import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Granted:
    report: Report
    cycle: Cycle
    link: links.Link


async def open_report(uow: UnitOfWork, *, token: str, fmt: str, now: datetime, settings: Settings) -> Granted | Refused:
    """Check a report link against the access rules and audit the attempt, granted or refused."""
    outcome: Granted | Refused
    link: links.Link | None = None
    try:
        link = links.verify(token, keys=settings.signing_keys())
    except links.BadLink as bad:
        outcome = Refused(reason=str(bad), status=404)
    else:
        outcome = await _check_report_link(uow, link, now=now)
    uow.session.add(
        AccessLog(
            at=now,
            kind="report",
            subject_id=link.subject_id if link else None,
            role=link.role if link else None,
            holder_id=link.holder_id if link else None,
            format=fmt,
            outcome="granted" if isinstance(outcome, Granted) else "refused",
            reason="ok" if isinstance(outcome, Granted) else outcome.reason,
        )
    )
    log.info(
        "report access",
        extra={
            "report_id": str(link.subject_id) if link else None,
            "role": link.role if link else None,
            "granted": isinstance(outcome, Granted),
            "reason": "ok" if isinstance(outcome, Granted) else outcome.reason,
        },
    )
    return outcome


async def _check_report_link(uow: UnitOfWork, link: links.Link, *, now: datetime) -> Granted | Refused:
    if link.kind != "report" or link.role not in ("facilitator", "participant"):
        return Refused(reason="wrong_kind", status=404)
    if links.expired(link, now=now):
        return Refused(reason="expired", status=410)
    report = await uow.session.get(Report, link.subject_id)
    cycle = await uow.session.get(Cycle, report.cycle_id) if report else None
    if report is None or cycle is None:
        return Refused(reason="no_report", status=404)
    if link.role == "participant":
        if report.released_at is None:
            return Refused(reason="not_released", status=403)
        return Granted(report=report, cycle=cycle, link=link)
    sessions = await uow.session.execute(
        select(col(FeedbackSession.id)).where(
            col(FeedbackSession.cycle_id) == cycle.id,
            col(FeedbackSession.facilitator_id) == link.holder_id,
            col(FeedbackSession.status).in_(("scheduled", "completed", "no_show")),
        )
    )
    if sessions.first() is None:
        return Refused(reason="not_the_facilitator", status=403)
    return Granted(report=report, cycle=cycle, link=link)


def report_meta(report: Report, cycle: Cycle) -> ReportMeta:
    return ReportMeta(
        participant_name=cycle.participant_name or "",
        programme=cycle.programme,
        organisation=cycle.organisation,
        deadline=cycle.deadline,
        closed_at=cycle.closed_at,
        generated_at=report.generated_at,
    )


def report_figures(report: Report) -> domain.ReportFigures:
    """The stored figures of a report, typed again for rendering."""
    return domain.ReportFigures.from_json(report.figures)


async def report_location(uow: UnitOfWork, *, cycle_id: UUID) -> Row[Any] | None:
    """Where a cycle's report is: ids, times, file paths, pages, release (never its content)."""
    return (
        await uow.session.execute(
            select(
                col(Report.id),
                col(Report.cycle_id),
                col(Report.generated_at),
                col(Report.html_path),
                col(Report.pdf_path),
                col(Report.pages),
                col(Report.released_at),
            ).where(col(Report.cycle_id) == cycle_id)
        )
    ).first()
