"""Renders reports from their anonymised figures: the JSON document both formats read, the HTML
with jinja2, and both formats at once (the PDF through `pdf.py`).

User text never becomes markup: jinja2 autoescapes it, and the typst templates read every value
from `sys.inputs` as JSON data, so it is typeset as plain text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from reports.domain import GROUP_LABELS, SCORES, CohortFigures, ReportFigures, SelfAssessmentFigures
from reports.pdf import TEMPLATES, page_count, render_pdf

SCALE_LABELS = {1: "Rarely", 2: "Sometimes", 3: "Often", 4: "Very often", 5: "Almost always"}
IMPORTANCE_LABELS = {
    1: "Not important",
    2: "Slightly important",
    3: "Moderately important",
    4: "Very important",
    5: "Essential to the role",
}
LEVELS = ("essential", "proficient", "strong", "exemplary")

_env = Environment(
    loader=PackageLoader("reports", "templates"),
    autoescape=select_autoescape(),
    undefined=StrictUndefined,
)


@dataclass(frozen=True)
class ReportMeta:
    participant_name: str
    programme: str | None
    organisation: str | None
    deadline: datetime | None
    closed_at: datetime | None
    generated_at: datetime
    questionnaire: str = "hlm360-default-1"


@dataclass(frozen=True)
class RenderedReport:
    html: str
    pdf: bytes
    pages: int


def _day(moment: datetime | None) -> str:
    return moment.strftime("%d %B %Y").lstrip("0") if moment else "not recorded"


def _scales() -> dict[str, Any]:
    return {
        "labels": dict(GROUP_LABELS),
        "scale": [{"value": s, "label": SCALE_LABELS[s]} for s in SCORES],
        "importance_scale": [{"value": s, "label": IMPORTANCE_LABELS[s]} for s in SCORES],
    }


def document(meta: ReportMeta, figures: ReportFigures) -> dict[str, Any]:
    """The single JSON document both templates of the 360 report read."""
    return {
        "meta": {
            "participant_name": meta.participant_name,
            "programme": meta.programme,
            "organisation": meta.organisation,
            "deadline": _day(meta.deadline),
            "closed": _day(meta.closed_at),
            "generated": _day(meta.generated_at),
            "questionnaire": meta.questionnaire,
        },
        **_scales(),
        "figures": figures.as_json(),
    }


def report_css_text() -> str:
    return (TEMPLATES / "report.css").read_text(encoding="utf-8")


def report_status_js_text() -> str:
    return (TEMPLATES / "report-status.js").read_text(encoding="utf-8")


def render_html(doc: dict[str, Any], *, template: str = "report.html", pdf_href: str | None = None) -> str:
    """The HTML report. Stand-alone (CSS inline) for the file; with `pdf_href` it is the served page,
    whose CSS comes from /report.css (the services' CSP forbids inline styles)."""
    inline_css = report_css_text() if pdf_href is None else None
    return _env.get_template(template).render(**doc, pdf_href=pdf_href, inline_css=inline_css)


def render(meta: ReportMeta, figures: ReportFigures) -> RenderedReport:
    """Both formats of one report (CPU-bound: call it off the event loop)."""
    doc = document(meta, figures)
    pdf = render_pdf(doc)
    return RenderedReport(html=render_html(doc), pdf=pdf, pages=page_count(pdf))


def self_assessment_document(figures: SelfAssessmentFigures, *, completed_at: datetime) -> dict[str, Any]:
    return {"meta": {"completed": _day(completed_at)}, **_scales(), "figures": figures.as_json()}


def render_self_assessment(figures: SelfAssessmentFigures, *, completed_at: datetime) -> RenderedReport:
    doc = self_assessment_document(figures, completed_at=completed_at)
    pdf = render_pdf(doc, template="self_assessment.typ")
    return RenderedReport(html=render_html(doc, template="self_assessment.html"), pdf=pdf, pages=page_count(pdf))


def cohort_document(figures: CohortFigures, *, programme: str, generated_at: datetime) -> dict[str, Any]:
    meta = {"programme": programme, "generated": _day(generated_at)}
    return {"meta": meta, **_scales(), "figures": figures.as_json()}


def render_cohort(figures: CohortFigures, *, programme: str, generated_at: datetime) -> RenderedReport:
    doc = cohort_document(figures, programme=programme, generated_at=generated_at)
    pdf = render_pdf(doc, template="cohort.typ")
    return RenderedReport(html=render_html(doc, template="cohort.html"), pdf=pdf, pages=page_count(pdf))
