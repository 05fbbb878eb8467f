"""Renders a report from its anonymised figures: HTML with jinja2, PDF with typst.

User text never becomes markup: jinja2 autoescapes it, and the typst template reads every value
from `sys.inputs` as JSON data, so it is typeset as plain text.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import typst
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from pypdf import PdfReader

from reports.domain import GROUP_LABELS, SCORES

SCALE_LABELS = {1: "Rarely", 2: "Sometimes", 3: "Often", 4: "Very often", 5: "Almost always"}

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


@dataclass(frozen=True)
class RenderedReport:
    html: str
    pdf: bytes
    pages: int


def _day(moment: datetime | None) -> str:
    return moment.strftime("%d %B %Y") if moment else "not recorded"


def document(meta: ReportMeta, figures: dict[str, Any]) -> dict[str, Any]:
    """The single JSON document both templates read."""
    return {
        "meta": {
            "participant_name": meta.participant_name,
            "programme": meta.programme,
            "organisation": meta.organisation,
            "deadline": _day(meta.deadline),
            "closed": _day(meta.closed_at),
            "generated": _day(meta.generated_at),
        },
        "labels": dict(GROUP_LABELS),
        "scale": [{"value": s, "label": SCALE_LABELS[s]} for s in SCORES],
        "figures": figures,
    }


def render_html(doc: dict[str, Any]) -> str:
    return _env.get_template("report.html").render(**doc)


def render_pdf(doc: dict[str, Any]) -> bytes:
    template = resources.files("reports") / "templates" / "report.typ"
    with resources.as_file(template) as path:
        pdf = typst.compile(str(path), sys_inputs={"data": json.dumps(doc)})
    assert isinstance(pdf, bytes)
    return pdf


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


def render(meta: ReportMeta, figures: dict[str, Any]) -> RenderedReport:
    """Both formats of one report (CPU-bound: call it off the event loop)."""
    doc = document(meta, figures)
    pdf = render_pdf(doc)
    return RenderedReport(html=render_html(doc), pdf=pdf, pages=page_count(pdf))
