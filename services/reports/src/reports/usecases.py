"""Use cases of the reports service. Each runs inside the caller's unit of work; the caller
(a Kafka handler) commits, so one use case is one transaction.

The three events of a cycle arrive on different topics in any order, and may be handled at the
same time: every use case first locks the cycle's row, so whichever event completes the picture
last sees the others' committed rows and generates the report exactly once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from uuid import UUID, uuid4

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from reports import domain, links
from reports.config import Settings
from reports.itembank import wording_for
from reports.render import RenderedReport, ReportMeta, render, render_cohort, render_self_assessment
from reports.tables import (
    AccessLog,
    CohortSnapshot,
    Cycle,
    Facilitator,
    FeedbackSession,
    OutgoingEmail,
    Report,
    Response,
    SelfAssessment,
)
from shared import mail_outbox
from shared.contracts.events import (
    CycleClosed,
    CycleOpened,
    FacilitatorRegistered,
    FeedbackSessionCancelled,
    FeedbackSessionCompleted,
    FeedbackSessionRescheduled,
    FeedbackSessionScheduled,
    RatingSubmitted,
    ReportGenerated,
    ReportReleased,
    SelfAssessmentCompleted,
)
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
        cycle.participant_email = str(event.participant_email) if event.participant_email else None
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
    stored_rows = list(rows.scalars().all())
    responses = [_to_domain(row) for row in stored_rows]
    version = _questionnaire_version(stored_rows)
    figures = domain.compile_figures(
        responses,
        cycle_id=cycle.id,
        threshold=settings.min_group_size,
        gap_threshold=settings.gap_threshold,
        wording=wording_for(version),
    )
    earlier = await _earlier_report(uow, cycle)
    if earlier is not None:
        earlier_figures, earlier_closed = earlier
        figures["comparison"] = domain.compare(figures, earlier_figures, earlier_closed=earlier_closed)
    generated_at = datetime.now(UTC)
    meta = ReportMeta(
        questionnaire=version,
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
    await _offer_facilitator_links(uow, cycle_id=cycle.id, settings=settings)
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


def _questionnaire_version(rows: list[Response]) -> str:
    versions = Counter(row.questionnaire_version for row in rows)
    return versions.most_common(1)[0][0] if versions else ""


def _day(moment: datetime) -> str:
    return moment.strftime("%d %B %Y").lstrip("0")


async def _earlier_report(uow: UnitOfWork, cycle: Cycle) -> tuple[dict[str, Any], str] | None:
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
    return row[0], _day(row[1])


# --- who may read a report: facilitator first, the participant after the session ---------------


async def record_facilitator(uow: UnitOfWork, event: FacilitatorRegistered, *, settings: Settings) -> None:
    """Keep the facilitator's name and email; send links for sessions that were waiting for it."""
    facilitator = await uow.session.get(Facilitator, event.facilitator_id, with_for_update=True)
    if facilitator is None:
        facilitator = Facilitator(id=event.facilitator_id, name=event.name, email=str(event.email))
    else:
        facilitator.name, facilitator.email = event.name, str(event.email)
    uow.session.add(facilitator)
    await uow.session.flush()
    cycles = await uow.session.execute(
        select(col(FeedbackSession.cycle_id)).where(
            col(FeedbackSession.facilitator_id) == event.facilitator_id,
            col(FeedbackSession.status) == "scheduled",
        )
    )
    for cycle_id in cycles.scalars().all():
        await _offer_facilitator_links(uow, cycle_id=cycle_id, settings=settings)


async def record_session(
    uow: UnitOfWork, event: FeedbackSessionScheduled | FeedbackSessionRescheduled, *, settings: Settings
) -> None:
    """A session was booked or moved: its facilitator may read the report until shortly after it."""
    await _lock_cycle(uow, event.cycle_id)
    session = await uow.session.get(FeedbackSession, event.session_id, with_for_update=True)
    if session is None:
        session = FeedbackSession(
            id=event.session_id,
            cycle_id=event.cycle_id,
            facilitator_id=event.facilitator_id,
            starts_at=event.starts_at,
            ends_at=event.ends_at,
        )
    elif session.status in ("completed", "no_show"):
        return
    session.facilitator_id = event.facilitator_id
    session.starts_at, session.ends_at = event.starts_at, event.ends_at
    session.status = "scheduled"
    if isinstance(event, FeedbackSessionScheduled):
        session.report_id = event.report_id
    uow.session.add(session)
    await uow.session.flush()
    await _offer_facilitator_links(uow, cycle_id=event.cycle_id, settings=settings)


async def record_session_cancelled(uow: UnitOfWork, event: FeedbackSessionCancelled) -> None:
    """A cancelled session's facilitator loses access (a new booking gives it back)."""
    session = await uow.session.get(FeedbackSession, event.session_id, with_for_update=True)
    if session is not None and session.status == "scheduled":
        session.status = "cancelled"
        uow.session.add(session)


async def record_session_completed(
    uow: UnitOfWork, event: FeedbackSessionCompleted, *, settings: Settings
) -> Report | None:
    """After a completed session the report is released to the participant (once)."""
    await _lock_cycle(uow, event.cycle_id)
    session = await uow.session.get(FeedbackSession, event.session_id, with_for_update=True)
    if session is not None:
        session.status = event.outcome
        uow.session.add(session)
    if event.outcome != "completed":
        return None
    report = await uow.session.get(Report, event.report_id, with_for_update=True)
    if report is None or report.cycle_id != event.cycle_id:
        # A session booked on another system's report (or a test's): nothing of ours to release.
        log.warning(
            "session completed for a report this service does not have",
            extra={"cycle_id": str(event.cycle_id), "report_id": str(event.report_id)},
        )
        return None
    if report.released_at is not None:
        return None
    await _release(uow, report, reason="session_completed", at=event.occurred_at,
                   correlation_id=event.correlation_id or event.cycle_id, settings=settings)
    return report


async def release_by_admin(uow: UnitOfWork, *, cycle_id: UUID, settings: Settings, now: datetime) -> str:
    """Admin override, e.g. the feedback conversation happened outside the booking system or cannot
    take place: release the report to the participant now. Returns 'released' or why not."""
    await _lock_cycle(uow, cycle_id)
    report = (
        await uow.session.execute(select(Report).where(col(Report.cycle_id) == cycle_id).with_for_update())
    ).scalar_one_or_none()
    if report is None:
        return "no_report"
    if report.released_at is not None:
        return "already_released"
    await _release(uow, report, reason="released_by_admin", at=now, correlation_id=cycle_id, settings=settings)
    return "released"


async def _release(
    uow: UnitOfWork,
    report: Report,
    *,
    reason: Literal["session_completed", "released_by_admin"],
    at: datetime,
    correlation_id: UUID,
    settings: Settings,
) -> None:
    """Release a report once: ReportReleased, and the participant's personal link by email."""
    report.released_at = at
    uow.session.add(report)
    uow.emit(
        ReportReleased(
            producer="reports", correlation_id=correlation_id, cycle_id=report.cycle_id, report_id=report.id,
            reason=reason,
        )
    )
    cycle = await uow.session.get(Cycle, report.cycle_id)
    if cycle is not None and cycle.participant_email:
        _queue_email(
            uow,
            kind="participant_released",
            subject_id=report.id,
            recipient=cycle.participant_email,
            role="participant",
            holder_id=None,
            expires_at=datetime.now(UTC) + timedelta(days=settings.participant_link_days),
        )
    log.info("report released", extra={"cycle_id": str(report.cycle_id), "report_id": str(report.id),
                                       "reason": reason})


async def _offer_facilitator_links(uow: UnitOfWork, *, cycle_id: UUID, settings: Settings) -> None:
    """Email the facilitator of each scheduled session a link, once per session time, when the
    report exists and their address is known."""
    report = (await uow.session.execute(select(Report).where(col(Report.cycle_id) == cycle_id))).scalar_one_or_none()
    if report is None:
        return
    sessions = await uow.session.execute(
        select(FeedbackSession).where(
            col(FeedbackSession.cycle_id) == cycle_id, col(FeedbackSession.status) == "scheduled"
        )
    )
    for session in sessions.scalars().all():
        if session.link_sent_for == session.ends_at:
            continue
        facilitator = await uow.session.get(Facilitator, session.facilitator_id)
        if facilitator is None:
            continue
        _queue_email(
            uow,
            kind="facilitator_link",
            subject_id=report.id,
            recipient=facilitator.email,
            role="facilitator",
            holder_id=facilitator.id,
            expires_at=session.ends_at + timedelta(days=settings.facilitator_link_days_after_session),
        )
        session.link_sent_for = session.ends_at
        uow.session.add(session)


def _queue_email(
    uow: UnitOfWork,
    *,
    kind: str,
    subject_id: UUID,
    recipient: str,
    role: str,
    holder_id: UUID | None,
    expires_at: datetime,
) -> OutgoingEmail:
    return mail_outbox.queue_email(
        uow,
        OutgoingEmail(
            id=uuid4(),
            kind=kind,
            subject_id=subject_id,
            recipient=recipient,
            link_role=role,
            holder_id=holder_id,
            link_expires_at=expires_at,
        ),
    )


def link_for(email: OutgoingEmail, *, settings: Settings) -> str:
    kind = "cohort" if email.link_role == "programme_lead" else "report"
    token = links.sign(
        links.Link(
            kind=kind,
            subject_id=email.subject_id,
            role=email.link_role,
            holder_id=email.holder_id,
            expires_at=email.link_expires_at,
        ),
        secret=settings.link_secret.get_secret_value().encode(),
    )
    return f"{settings.base_url}/{kind}/{token}"


@dataclass(frozen=True)
class Granted:
    report: Report
    cycle: Cycle
    link: links.Link


@dataclass(frozen=True)
class Refused:
    reason: str
    status: int


async def open_report(
    uow: UnitOfWork, *, token: str, fmt: str, now: datetime, settings: Settings
) -> Granted | Refused:
    """Check a report link against the access rules and audit the attempt, granted or refused."""
    outcome: Granted | Refused
    link: links.Link | None = None
    try:
        link = links.verify(token, secret=settings.link_secret.get_secret_value().encode())
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


async def resend_participant_link(uow: UnitOfWork, *, cycle_id: UUID, settings: Settings) -> str:
    """Admin: a fresh participant link (released reports only). Returns 'queued' or why not."""
    report = (await uow.session.execute(select(Report).where(col(Report.cycle_id) == cycle_id))).scalar_one_or_none()
    cycle = await uow.session.get(Cycle, cycle_id)
    if report is None or cycle is None:
        return "no_report"
    if report.released_at is None:
        return "not_released"
    if not cycle.participant_email:
        return "no_participant_email"
    _queue_email(
        uow,
        kind="participant_released",
        subject_id=report.id,
        recipient=cycle.participant_email,
        role="participant",
        holder_id=None,
        expires_at=datetime.now(UTC) + timedelta(days=settings.participant_link_days),
    )
    return "queued"


# --- the free self-assessment ------------------------------------------------------------------


async def record_self_assessment(uow: UnitOfWork, event: SelfAssessmentCompleted) -> SelfAssessment | None:
    """Render the person's private self-assessment report once."""
    await uow.session.execute(select(func.pg_advisory_xact_lock(_lock_key(event.assessment_id))))
    if await uow.session.get(SelfAssessment, event.assessment_id) is not None:
        return None
    response = domain.Response(
        group=RaterGroup.SELF,
        answers=tuple(
            domain.Answer(item_id=a.item_id, dimension=a.dimension, score=a.score) for a in event.answers
        ),
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
        figures=figures,
        html=rendered.html,
        pdf=rendered.pdf,
    )
    uow.session.add(row)
    log.info("self-assessment report rendered", extra={"assessment_id": str(event.assessment_id)})
    return row


def _lock_key(value: UUID) -> int:
    return int.from_bytes(value.bytes[:8], "big", signed=True)


async def open_self_assessment(
    uow: UnitOfWork, *, assessment_id: UUID, token: str, fmt: str, now: datetime
) -> SelfAssessment | Refused | None:
    """The assessment if the token is its own; None while it is still being prepared."""
    row = await uow.session.get(SelfAssessment, assessment_id)
    if row is None:
        outcome: SelfAssessment | Refused | None = None
    elif not hmac_equal(links.token_sha256(token), row.access_token_sha256):
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


def hmac_equal(a: str, b: str) -> bool:
    # Bytes, not str: compare_digest refuses non-ASCII str, and a lone surrogate cannot be encoded strictly.
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


# --- programme cohort reports --------------------------------------------------------------------


@dataclass(frozen=True)
class CohortCreated:
    snapshot: CohortSnapshot
    link: str
    new: bool


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
        await uow.session.execute(select(CohortSnapshot).where(col(CohortSnapshot.programme) == programme))
    ).scalars().all()
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
        figures = domain.cohort_figures([r[1] for r in rows], threshold=threshold)
        now = datetime.now(UTC)
        rendered = await asyncio.to_thread(render_cohort, figures, programme=programme, generated_at=now)
        snapshot = CohortSnapshot(
            id=uuid4(),
            programme=programme,
            created_at=now,
            cycle_ids=sorted(cycle_ids),
            figures=figures,
            html=rendered.html,
            pdf=rendered.pdf,
        )
        uow.session.add(snapshot)
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
        link = links.verify(token, secret=settings.link_secret.get_secret_value().encode())
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
