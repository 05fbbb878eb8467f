"""HTTP: report metadata (API), the signed-link report pages and PDFs, the private self-assessment
report, programme cohort reports, and the admin API (disabled unless an admin token is set)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from reports import usecases
from reports.config import Settings
from reports.pages import (
    cohort_document,
    document,
    render_html,
    report_css_text,
    report_status_js_text,
    self_assessment_document,
)
from shared.contracts.events import Email
from shared.contracts.text import SingleLine
from shared.ratelimit import Limit
from shared.service import ServiceRuntime, runtime_of
from shared.web import client_address, page_templates
from shared.web.admin import Admin

router = APIRouter()
_pages = page_templates("reports")
# Opening report pages and PDFs, per client address, valid link or not (counted in the database,
# so every instance shares it: docs/adr/0023).
PAGES = Limit.per("report-pages", hits=120, seconds=60)

REFUSALS = {
    "expired": (
        "This link has expired",
        [
            "Links to reports work for a limited time.",
            "Ask your facilitator or the HLM 360 team to send you a new link.",
        ],
    ),
    "not_released": (
        "Your report is not available yet",
        [
            "Your report is released to you at your feedback session with your facilitator.",
            "You will get an email with a link to it after the session.",
        ],
    ),
    "not_the_facilitator": (
        "You cannot open this report",
        [
            "This report can only be read by the facilitator of the participant's feedback session.",
            "If your session has been moved to another facilitator, this link no longer works.",
        ],
    ),
}
# The private self-assessment report: under /report/ with the others, since ratings serves the
# questionnaire at /self-assessment on the same origin (ratings links here when it is finished).
SELF_ASSESSMENT = "/report/self-assessment"
# Tells the waiting page's script (report-status.js) whether the self-assessment report is there yet.
READY_HEADER = "X-Report-Ready"
NOT_FOUND = (
    "Page not found",
    [
        "If you typed the web address, check it is correct.",
        "If you pasted the web address, check you copied the entire address.",
    ],
)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]
Config = Annotated[Settings, Depends(settings_of)]


def _page(
    title: str, paragraphs: list[str], *, status: int, check_href: str | None = None, check_seconds: int = 3
) -> HTMLResponse:
    html = _pages.get_template("pages/message.html").render(
        page_title=title,
        paragraphs=paragraphs,
        errors=None,
        service_name="HLM 360 reports",
        check_href=check_href,
        check_seconds=check_seconds,
    )
    return HTMLResponse(html, status_code=status)


def _refusal(reason: str, status: int) -> HTMLResponse:
    title, paragraphs = REFUSALS.get(reason, NOT_FOUND)
    return _page(title, paragraphs, status=status)


async def throttle(request: Request, runtime: Runtime) -> None:
    """A route dependency: 429 once a client has opened too many report pages."""
    if not await runtime.counters.allow(PAGES, client_address(request)):
        raise HTTPException(status_code=429, detail="too many requests; try again in a minute")


Throttled = [Depends(throttle)]


def _pdf(data: bytes, filename: str) -> Response:
    return Response(
        data, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


class ReportLocation(BaseModel):
    report_id: UUID
    cycle_id: UUID
    generated_at: datetime
    html_path: str
    pdf_path: str
    pages: int
    released: bool = False


@router.get("/api/cycles/{cycle_id}/report")
async def report_of_cycle(cycle_id: UUID, _: Admin, runtime: Runtime) -> ReportLocation:
    """Where a cycle's report is (metadata only: the content is served through signed links)."""
    async with runtime.uow() as uow:
        row = await usecases.report_location(uow, cycle_id=cycle_id)
    if row is None:
        raise HTTPException(status_code=404, detail="no report for this cycle yet")
    return ReportLocation(
        report_id=row.id,
        cycle_id=row.cycle_id,
        generated_at=row.generated_at,
        html_path=row.html_path,
        pdf_path=row.pdf_path,
        pages=row.pages,
        released=row.released_at is not None,
    )


@router.get("/report.css", include_in_schema=False)
async def report_css() -> PlainTextResponse:
    return PlainTextResponse(report_css_text(), media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.get("/report-status.js", include_in_schema=False)
async def report_status_js() -> PlainTextResponse:
    return PlainTextResponse(
        report_status_js_text(), media_type="text/javascript", headers={"Cache-Control": "max-age=3600"}
    )


@router.get("/report/{token}", response_class=HTMLResponse, dependencies=Throttled)
async def report_page(token: str, runtime: Runtime, settings: Config) -> Response:
    """The report as a web page, for the holder of a valid link (facilitator, or participant after release)."""
    async with runtime.uow() as uow:
        outcome = await usecases.open_report(uow, token=token, fmt="html", now=datetime.now(UTC), settings=settings)
        await uow.commit()
    if isinstance(outcome, usecases.Refused):
        return _refusal(outcome.reason, outcome.status)
    doc = document(usecases.report_meta(outcome.report, outcome.cycle), usecases.report_figures(outcome.report))
    return HTMLResponse(render_html(doc, pdf_href=f"/report/{token}/pdf"))


@router.get("/report/{token}/pdf", dependencies=Throttled)
async def report_pdf(token: str, runtime: Runtime, settings: Config) -> Response:
    """The stored PDF of the report, for the holder of a valid link."""
    async with runtime.uow() as uow:
        outcome = await usecases.open_report(uow, token=token, fmt="pdf", now=datetime.now(UTC), settings=settings)
        await uow.commit()
    if isinstance(outcome, usecases.Refused):
        return _refusal(outcome.reason, outcome.status)
    return _pdf(outcome.report.pdf, "hlm360-report.pdf")


@router.get(SELF_ASSESSMENT + "/{assessment_id}/{token}", response_class=HTMLResponse, dependencies=Throttled)
async def self_assessment_page(assessment_id: UUID, token: str, runtime: Runtime, settings: Config) -> Response:
    """The private self-assessment report, or a 'being prepared' page that says when the report is ready.

    The waiting page never reloads itself (an automatic refresh is a time limit the reader cannot
    control, WCAG 2.2.1): a script checks in the background and announces the report, with a link."""
    async with runtime.uow() as uow:
        outcome = await usecases.open_self_assessment(
            uow, assessment_id=assessment_id, token=token, fmt="html", now=datetime.now(UTC)
        )
        await uow.commit()
    if outcome is None:
        waiting = _page(
            "Your self-assessment report is being prepared",
            [
                "This usually takes a few seconds. This page will tell you when your report is ready.",
                "If it keeps showing this message, check you opened the whole link you were given.",
            ],
            status=200,
            check_href=f"{SELF_ASSESSMENT}/{assessment_id}/{token}",
            check_seconds=settings.self_assessment_refresh_seconds,
        )
        waiting.headers[READY_HEADER] = "no"
        return waiting
    if isinstance(outcome, usecases.Refused):
        return _refusal(outcome.reason, outcome.status)
    doc = self_assessment_document(usecases.own_figures(outcome), completed_at=outcome.completed_at)
    return HTMLResponse(
        render_html(doc, template="self_assessment.html", pdf_href=f"{SELF_ASSESSMENT}/{assessment_id}/{token}/pdf"),
        headers={READY_HEADER: "yes"},
    )


@router.get(SELF_ASSESSMENT + "/{assessment_id}/{token}/pdf", dependencies=Throttled)
async def self_assessment_pdf(assessment_id: UUID, token: str, runtime: Runtime) -> Response:
    async with runtime.uow() as uow:
        outcome = await usecases.open_self_assessment(
            uow, assessment_id=assessment_id, token=token, fmt="pdf", now=datetime.now(UTC)
        )
        await uow.commit()
    if outcome is None:
        return _page("Your self-assessment report is being prepared", ["Try again in a few seconds."], status=404)
    if isinstance(outcome, usecases.Refused):
        return _refusal(outcome.reason, outcome.status)
    return _pdf(outcome.pdf, "hlm-self-assessment.pdf")


@router.get("/cohort/{token}", response_class=HTMLResponse, dependencies=Throttled)
async def cohort_page(token: str, runtime: Runtime, settings: Config) -> Response:
    """A programme cohort report, for the holder of its signed link."""
    async with runtime.uow() as uow:
        outcome = await usecases.open_cohort(uow, token=token, fmt="html", now=datetime.now(UTC), settings=settings)
        await uow.commit()
    if isinstance(outcome, usecases.Refused):
        return _refusal(outcome.reason, outcome.status)
    figures = usecases.snapshot_figures(outcome)
    doc = cohort_document(figures, programme=outcome.programme, generated_at=outcome.created_at)
    return HTMLResponse(render_html(doc, template="cohort.html", pdf_href=f"/cohort/{token}/pdf"))


@router.get("/cohort/{token}/pdf", dependencies=Throttled)
async def cohort_pdf(token: str, runtime: Runtime, settings: Config) -> Response:
    async with runtime.uow() as uow:
        outcome = await usecases.open_cohort(uow, token=token, fmt="pdf", now=datetime.now(UTC), settings=settings)
        await uow.commit()
    if isinstance(outcome, usecases.Refused):
        return _refusal(outcome.reason, outcome.status)
    return _pdf(outcome.pdf, "hlm360-cohort-report.pdf")


# --- admin API -------------------------------------------------------------------------------------


class CohortRequest(BaseModel):
    programme: SingleLine = Field(description="The programme, as the cycles' CycleRequested named it.")
    lead_email: Email | None = Field(default=None, description="Programme lead to email the link to.")


class CohortCreatedOut(BaseModel):
    cohort_id: UUID
    programme: str
    participants: int
    link: str
    new: bool


@router.post("/api/cohorts", status_code=201)
async def create_cohort(body: CohortRequest, _: Admin, runtime: Runtime, settings: Config) -> CohortCreatedOut:
    """Admin: build (or re-issue) the cohort report of a programme and return a signed link to it."""
    async with runtime.uow() as uow:
        outcome = await usecases.create_cohort_report(
            uow,
            programme=body.programme,
            lead_email=str(body.lead_email) if body.lead_email else None,
            settings=settings,
        )
        await uow.commit()
    if isinstance(outcome, usecases.Refused):
        raise HTTPException(status_code=outcome.status, detail=outcome.reason)
    return CohortCreatedOut(
        cohort_id=outcome.snapshot.id,
        programme=outcome.snapshot.programme,
        participants=len(outcome.snapshot.cycle_ids),
        link=outcome.link,
        new=outcome.new,
    )


@router.post("/api/cycles/{cycle_id}/report/release", status_code=202)
async def release_report(cycle_id: UUID, _: Admin, runtime: Runtime, settings: Config) -> dict[str, str]:
    """Admin: release the report to the participant without a completed session in scheduling (the
    conversation happened elsewhere, or cannot happen). Emits ReportReleased(released_by_admin) and
    emails the participant their link."""
    async with runtime.uow() as uow:
        outcome = await usecases.release_by_admin(uow, cycle_id=cycle_id, settings=settings, now=datetime.now(UTC))
        await uow.commit()
    if outcome != "released":
        raise HTTPException(status_code=404 if outcome == "no_report" else 409, detail=outcome)
    return {"status": outcome}


@router.post("/api/cycles/{cycle_id}/report/participant-link", status_code=202)
async def resend_participant_link(cycle_id: UUID, _: Admin, runtime: Runtime, settings: Config) -> dict[str, str]:
    """Admin: email the participant a fresh link to their released report."""
    async with runtime.uow() as uow:
        outcome = await usecases.resend_participant_link(uow, cycle_id=cycle_id, settings=settings)
        await uow.commit()
    if outcome != "queued":
        raise HTTPException(status_code=409, detail=outcome)
    return {"status": outcome}
