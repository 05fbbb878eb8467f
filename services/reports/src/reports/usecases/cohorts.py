"""Programme cohort reports: snapshots of many reports' published figures, opened by a signed link."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from sqlalchemy import func, select
from sqlmodel import col

from reports import domain, links
from reports.config import Settings
from reports.pages import render_cohort
from reports.tables import (
    AccessLog,
    CohortSnapshot,
    Cycle,
    OutgoingEmail,
    Report,
)
from reports.usecases.common import Refused, link_for
from shared import mail_outbox
from shared.db import UnitOfWork


@dataclass(frozen=True)
class CohortCreated:
    snapshot: CohortSnapshot
    link: str
    new: bool


async def _new_snapshot(
    uow: UnitOfWork,
    *,
    programme: str,
    cycle_ids: frozenset[str],
    reports: list[domain.ReportFigures],
    settings: Settings,
) -> CohortSnapshot:
    """Sum the reports' published figures, render them and store the snapshot."""
    figures = domain.cohort_figures(reports, threshold=settings.min_group_size)
    now = datetime.now(UTC)
    rendered = await asyncio.to_thread(render_cohort, figures, programme=programme, generated_at=now)
    snapshot = CohortSnapshot(
        id=uuid4(),
        programme=programme,
        created_at=now,
        cycle_ids=sorted(cycle_ids),
        figures=figures.as_json(),
        html=rendered.html,
        pdf=rendered.pdf,
    )
    uow.session.add(snapshot)
    return snapshot


async def create_cohort_report(
    uow: UnitOfWork, *, programme: str, lead_email: str | None, settings: Settings
) -> CohortCreated | Refused:
    """Aggregate every report of a programme into a cohort snapshot and give its lead a link."""
    programme_key = int.from_bytes(hashlib.sha256(programme.encode()).digest()[:8], "big", signed=True)
    await uow.session.execute(select(func.pg_advisory_xact_lock(programme_key)))
    rows = (
        await uow.session.execute(
            select(col(Report.cycle_id), col(Report.figures))
            .join(Cycle, col(Cycle.id) == col(Report.cycle_id))
            .where(col(Cycle.programme) == programme)
            .order_by(col(Report.cycle_id))
        )
    ).all()
    threshold = settings.min_group_size
    if len(rows) < threshold:
        return Refused(
            reason=f"the programme has {len(rows)} report(s); a cohort report needs at least {threshold}", status=409
        )
    cycle_ids = frozenset(str(r[0]) for r in rows)
    previous = (
        (await uow.session.execute(select(CohortSnapshot).where(col(CohortSnapshot.programme) == programme)))
        .scalars()
        .all()
    )
    same = next((p for p in previous if frozenset(p.cycle_ids) == cycle_ids), None)
    snapshot: CohortSnapshot
    if same is not None:
        snapshot, new = same, False
    elif not domain.cohort_snapshot_allowed((frozenset(p.cycle_ids) for p in previous), cycle_ids, threshold=threshold):
        return Refused(
            reason=f"a new cohort report must include at least {threshold} reports more than the last one",
            status=409,
        )
    else:
        reports = [domain.ReportFigures.from_json(r[1]) for r in rows]
        snapshot = await _new_snapshot(
            uow, programme=programme, cycle_ids=cycle_ids, reports=reports, settings=settings
        )
        new = True
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=settings.cohort_link_days)
    email = OutgoingEmail(
        id=uuid4(),
        kind="cohort_link",
        subject_id=snapshot.id,
        recipient=lead_email or "",
        link_role="programme_lead",
        holder_id=None,
        link_expires_at=expires_at,
    )
    if lead_email:
        mail_outbox.queue_email(uow, email)
    return CohortCreated(snapshot=snapshot, link=link_for(email, settings=settings), new=new)


async def open_cohort(
    uow: UnitOfWork, *, token: str, fmt: str, now: datetime, settings: Settings
) -> CohortSnapshot | Refused:
    """Check a cohort link and audit the attempt."""
    link: links.Link | None = None
    outcome: CohortSnapshot | Refused
    try:
        link = links.verify(token, keys=settings.signing_keys())
    except links.BadLink as bad:
        outcome = Refused(reason=str(bad), status=404)
    else:
        if link.kind != "cohort" or link.role != "programme_lead":
            outcome = Refused(reason="wrong_kind", status=404)
        elif links.expired(link, now=now):
            outcome = Refused(reason="expired", status=410)
        else:
            found = await uow.session.get(CohortSnapshot, link.subject_id)
            outcome = found if found is not None else Refused(reason="no_report", status=404)
    uow.session.add(
        AccessLog(
            at=now,
            kind="cohort",
            subject_id=link.subject_id if link else None,
            role=link.role if link else None,
            format=fmt,
            outcome="granted" if isinstance(outcome, CohortSnapshot) else "refused",
            reason="ok" if isinstance(outcome, CohortSnapshot) else outcome.reason,
        )
    )
    return outcome


def snapshot_figures(snapshot: CohortSnapshot) -> domain.CohortFigures:
    """The stored figures of a cohort snapshot, typed again for rendering."""
    return domain.CohortFigures.from_json(snapshot.figures)
