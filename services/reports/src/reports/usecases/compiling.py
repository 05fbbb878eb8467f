"""Compiling a cycle's 360 report once its picture is complete: figures, HTML, PDF, files, ReportGenerated."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

from sqlalchemy import func, select
from sqlmodel import col

from reports import domain
from reports.config import Settings
from reports.itembank import wording_for
from reports.pages import RenderedReport, ReportMeta, render
from reports.tables import (
    Cycle,
    Report,
    Response,
)
from reports.usecases.release import offer_facilitator_links
from shared.contracts.events import (
    ReportGenerated,
)
from shared.contracts.vocabulary import Dimension, RaterGroup
from shared.db import UnitOfWork

log = logging.getLogger(__name__)


async def stored_counts(uow: UnitOfWork, cycle_id: UUID) -> dict[RaterGroup, int]:
    rows = await uow.session.execute(
        select(col(Response.group), func.count())
        .where(col(Response.cycle_id) == cycle_id)
        .group_by(col(Response.group))
    )
    return {RaterGroup(group): count for group, count in rows.all()}


def _to_domain(row: Response) -> domain.Response:
    return domain.Response(
        group=RaterGroup(row.group),
        answers=tuple(
            domain.Answer(item_id=a["item_id"], dimension=Dimension(a["dimension"]), score=a["score"])
            for a in row.answers
        ),
        importance={Dimension(i["dimension"]): int(i["score"]) for i in row.importance},
        comments=tuple(domain.Comment(question_id=c["question_id"], text=c["text"]) for c in row.comments),
    )


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)


def _write_files(directory: Path, rendered: RenderedReport) -> tuple[Path, Path]:
    html_path, pdf_path = directory / "report.html", directory / "report.pdf"
    _write_atomically(html_path, rendered.html.encode())
    _write_atomically(pdf_path, rendered.pdf)
    return html_path, pdf_path


async def _complete(uow: UnitOfWork, cycle: Cycle) -> bool:
    """Opened, closed, no report yet, and exactly the announced responses stored."""
    if cycle.opened_at is None or cycle.closed_at is None or cycle.responses_per_group is None:
        return False
    already = await uow.session.execute(select(col(Report.id)).where(col(Report.cycle_id) == cycle.id))
    if already.first() is not None:
        return False
    expected = {RaterGroup(g): n for g, n in cycle.responses_per_group.items()}
    stored = await stored_counts(uow, cycle.id)
    if not domain.responses_complete(stored, expected):
        if sum(stored.values()) > sum(expected.values()):
            log.warning(
                "more responses stored than the closed cycle announced; report withheld",
                extra={"cycle_id": str(cycle.id), "stored": sum(stored.values()), "expected": sum(expected.values())},
            )
        return False
    return True


async def _compile(
    uow: UnitOfWork, cycle: Cycle, stored_rows: list[Response], *, settings: Settings
) -> domain.ReportFigures:
    """The cycle's figures, with the progress since the participant's earlier 360 if there is one."""
    figures = domain.compile_figures(
        [_to_domain(row) for row in stored_rows],
        cycle_id=cycle.id,
        threshold=settings.min_group_size,
        gap_threshold=settings.gap_threshold,
        wording=wording_for(_questionnaire_version(stored_rows)),
    )
    earlier = await _earlier_report(uow, cycle)
    if earlier is None:
        return figures
    earlier_figures, earlier_closed = earlier
    comparison = domain.compare(figures, earlier_figures, earlier_closed=earlier_closed)
    return figures.model_copy(update={"comparison": comparison})


def _meta(cycle: Cycle, *, version: str, generated_at: datetime) -> ReportMeta:
    return ReportMeta(
        questionnaire=version,
        participant_name=cycle.participant_name or "",
        programme=cycle.programme,
        organisation=cycle.organisation,
        deadline=cycle.deadline,
        closed_at=cycle.closed_at,
        generated_at=generated_at,
    )


def _report_generated(cycle: Cycle, report: Report, *, correlation_id: UUID | None) -> ReportGenerated:
    assert cycle.participant_id and cycle.organisation and cycle.region
    return ReportGenerated(
        producer="reports",
        correlation_id=correlation_id or cycle.id,
        cycle_id=cycle.id,
        report_id=report.id,
        participant_id=cycle.participant_id,
        organisation=cycle.organisation,
        region=cycle.region,
        facilitator_id=cycle.facilitator_id,
    )


async def generate_if_complete(
    uow: UnitOfWork, cycle: Cycle, *, settings: Settings, correlation_id: UUID | None
) -> Report | None:
    """Compile the report once the cycle is opened, closed and every announced response is stored."""
    if not await _complete(uow, cycle):
        return None
    rows = await uow.session.execute(select(Response).where(col(Response.cycle_id) == cycle.id))
    stored_rows = list(rows.scalars().all())
    figures = await _compile(uow, cycle, stored_rows, settings=settings)
    generated_at = datetime.now(UTC)
    meta = _meta(cycle, version=_questionnaire_version(stored_rows), generated_at=generated_at)
    started = time.perf_counter()
    rendered = await asyncio.to_thread(render, meta, figures)
    render_ms = round((time.perf_counter() - started) * 1000)
    html_path, pdf_path = await asyncio.to_thread(
        _write_files, (settings.output_dir / str(cycle.id)).resolve(), rendered
    )
    report = Report(
        id=uuid4(),
        cycle_id=cycle.id,
        generated_at=generated_at,
        figures=figures.as_json(),
        html=rendered.html,
        pdf=rendered.pdf,
        pages=rendered.pages,
        html_path=str(html_path),
        pdf_path=str(pdf_path),
    )
    uow.session.add(report)
    await uow.session.flush()
    uow.emit(_report_generated(cycle, report, correlation_id=correlation_id))
    await offer_facilitator_links(uow, cycle_id=cycle.id, settings=settings)
    log.info(
        "report generated",
        extra={
            "cycle_id": str(cycle.id),
            "report_id": str(report.id),
            "responses": len(stored_rows),
            "pages": rendered.pages,
            "render_ms": render_ms,
        },
    )
    return report


def _questionnaire_version(rows: list[Response]) -> str:
    versions = Counter(row.questionnaire_version for row in rows)
    return versions.most_common(1)[0][0] if versions else ""


def _day(moment: datetime) -> str:
    return moment.strftime("%d %B %Y").lstrip("0")


async def _earlier_report(uow: UnitOfWork, cycle: Cycle) -> tuple[domain.ReportFigures, str] | None:
    """The same participant's most recent earlier 360 report, if any (its published figures only)."""
    if not cycle.participant_id or cycle.closed_at is None:
        return None
    row = (
        await uow.session.execute(
            select(col(Report.figures), col(Cycle.closed_at))
            .join(Cycle, col(Cycle.id) == col(Report.cycle_id))
            .where(
                col(Cycle.participant_id) == cycle.participant_id,
                col(Cycle.id) != cycle.id,
                col(Cycle.closed_at) < cycle.closed_at,
            )
            .order_by(col(Cycle.closed_at).desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return domain.ReportFigures.from_json(row[0]), _day(row[1])
