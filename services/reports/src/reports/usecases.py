"""Use cases of the reports service. Each runs inside the caller's unit of work; the caller
(a Kafka handler) commits, so one use case is one transaction.

The three events of a cycle arrive on different topics in any order, and may be handled at the
same time: every use case first locks the cycle's row, so whichever event completes the picture
last sees the others' committed rows and generates the report exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from reports import domain
from reports.config import Settings
from reports.render import RenderedReport, ReportMeta, render
from reports.tables import Cycle, Report, Response
from shared.contracts.events import CycleClosed, CycleOpened, RatingSubmitted, ReportGenerated
from shared.contracts.vocabulary import Dimension, RaterGroup
from shared.db import UnitOfWork
from shared.errors import Rejected

log = logging.getLogger(__name__)


async def _lock_cycle(uow: UnitOfWork, cycle_id: UUID) -> Cycle:
    await uow.session.execute(insert(Cycle).values(id=cycle_id).on_conflict_do_nothing())
    result = await uow.session.execute(
        select(Cycle)
        .where(col(Cycle.id) == cycle_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    cycle: Cycle = result.scalar_one()
    return cycle


async def record_cycle_opened(uow: UnitOfWork, event: CycleOpened, *, settings: Settings) -> Report | None:
    """Keep what the report needs about the participant; generate if this was the missing piece."""
    cycle = await _lock_cycle(uow, event.cycle_id)
    if cycle.opened_at is None:
        cycle.participant_id = event.participant_id
        cycle.participant_name = event.participant_name
        cycle.organisation = event.organisation
        cycle.region = event.region
        cycle.programme = event.programme
        cycle.facilitator_id = event.facilitator_id
        cycle.deadline = event.deadline
        cycle.opened_at = event.occurred_at
        uow.session.add(cycle)
    return await generate_if_complete(uow, cycle, settings=settings, correlation_id=event.correlation_id)


async def record_rating(uow: UnitOfWork, event: RatingSubmitted, *, settings: Settings) -> Report | None:
    """Store one pseudonymous response (once per rater); generate if it was the last one awaited."""
    cycle = await _lock_cycle(uow, event.cycle_id)
    existing = await uow.session.get(Response, event.rater_id)
    if existing is not None:
        if existing.cycle_id != event.cycle_id:
            raise Rejected("this rater id already submitted a response for another cycle")
        return None
    uow.session.add(
        Response(
            rater_id=event.rater_id,
            cycle_id=event.cycle_id,
            group=event.group.value,
            questionnaire_version=event.questionnaire_version,
            answers=[a.model_dump(mode="json") for a in event.answers],
            importance=[i.model_dump(mode="json") for i in event.importance],
            comments=[c.model_dump(mode="json") for c in event.comments],
            submitted_at=event.occurred_at,
        )
    )
    await uow.session.flush()
    return await generate_if_complete(uow, cycle, settings=settings, correlation_id=event.correlation_id)


async def record_cycle_closed(uow: UnitOfWork, event: CycleClosed, *, settings: Settings) -> Report | None:
    """Remember how many responses the closed cycle has; generate if they are all here."""
    cycle = await _lock_cycle(uow, event.cycle_id)
    if cycle.closed_at is None:
        cycle.closed_at = event.occurred_at
        cycle.close_reason = event.reason.value
        cycle.responses_per_group = {g.value: n for g, n in event.responses_per_group.items()}
        uow.session.add(cycle)
    return await generate_if_complete(uow, cycle, settings=settings, correlation_id=event.correlation_id)


async def stored_counts(uow: UnitOfWork, cycle_id: UUID) -> dict[RaterGroup, int]:
    rows = await uow.session.execute(
        select(col(Response.group), func.count())
        .where(col(Response.cycle_id) == cycle_id)
        .group_by(col(Response.group))
    )
    return {RaterGroup(group): count for group, count in rows.tuples().all()}


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


async def generate_if_complete(
    uow: UnitOfWork, cycle: Cycle, *, settings: Settings, correlation_id: UUID | None
) -> Report | None:
    """Compile the report once the cycle is opened, closed and every announced response is stored."""
    if cycle.opened_at is None or cycle.closed_at is None or cycle.responses_per_group is None:
        return None
    already = await uow.session.execute(select(col(Report.id)).where(col(Report.cycle_id) == cycle.id))
    if already.first() is not None:
        return None
    expected = {RaterGroup(g): n for g, n in cycle.responses_per_group.items()}
    stored = await stored_counts(uow, cycle.id)
    if not domain.responses_complete(stored, expected):
        if sum(stored.values()) > sum(expected.values()):
            log.warning(
                "more responses stored than the closed cycle announced; report withheld",
                extra={"cycle_id": str(cycle.id), "stored": sum(stored.values()), "expected": sum(expected.values())},
            )
        return None

    rows = await uow.session.execute(
        select(Response).where(col(Response.cycle_id) == cycle.id)
    )
    responses = [_to_domain(row) for row in rows.scalars().all()]
    figures = domain.compile_figures(
        responses, cycle_id=cycle.id, threshold=settings.min_group_size, gap_threshold=settings.gap_threshold
    )
    generated_at = datetime.now(UTC)
    meta = ReportMeta(
        participant_name=cycle.participant_name or "",
        programme=cycle.programme,
        organisation=cycle.organisation,
        deadline=cycle.deadline,
        closed_at=cycle.closed_at,
        generated_at=generated_at,
    )
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
        figures=figures,
        html=rendered.html,
        pdf=rendered.pdf,
        pages=rendered.pages,
        html_path=str(html_path),
        pdf_path=str(pdf_path),
    )
    uow.session.add(report)
    await uow.session.flush()
    assert cycle.participant_id and cycle.organisation and cycle.region
    uow.emit(
        ReportGenerated(
            producer="reports",
            correlation_id=correlation_id or cycle.id,
            cycle_id=cycle.id,
            report_id=report.id,
            participant_id=cycle.participant_id,
            organisation=cycle.organisation,
            region=cycle.region,
            facilitator_id=cycle.facilitator_id,
        )
    )
    log.info(
        "report generated",
        extra={
            "cycle_id": str(cycle.id),
            "report_id": str(report.id),
            "responses": len(responses),
            "pages": rendered.pages,
            "render_ms": render_ms,
        },
    )
    return report
