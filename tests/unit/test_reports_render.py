"""Report rendering: user text stays literal in HTML and PDF; the PDF has every dimension."""

import io
import re
import time
from datetime import UTC, datetime
from uuid import UUID

import pytest
from pydantic import ValidationError
from pypdf import PdfReader

from reports.config import Settings
from reports.domain import Answer, Comment, Response, compile_figures
from reports.pages import ReportMeta, render
from shared.contracts.vocabulary import DIMENSION_TITLES, Dimension, RaterGroup

NASTY = r'Great #strong $x^2$ *bold* _under_ <script>alert("x")</script> \ back @ref [link] // end'
NASTY_NAME = "Amara #set $O'Kafor$"


def _responses() -> list[Response]:
    answers = tuple(
        Answer(item_id=f"{d.name[:3]}-{level}", dimension=d, score=(n + i) % 6 or None)
        for n, d in enumerate(Dimension)
        for i, level in enumerate("EPSX")
    )
    importance = {d: 4 for d in Dimension}
    groups = [RaterGroup.SELF, RaterGroup.LINE_MANAGER, *[RaterGroup.PEER] * 3, RaterGroup.DIRECT_REPORT]
    return [
        Response(
            group=g,
            answers=answers,
            importance=importance,
            comments=(Comment(question_id="overall_strengths", text=f"{NASTY} {g.value} {k}"),),
        )
        for k, g in enumerate(groups)
    ]


@pytest.fixture(scope="module")
def rendered():  # type: ignore[no-untyped-def]
    figures = compile_figures(
        _responses(), cycle_id=UUID("6f1c1a52-4f3e-4b0e-9d83-2b9c4a7e5d10"), threshold=3, gap_threshold=0.75
    )
    meta = ReportMeta(
        participant_name=NASTY_NAME,
        programme="Mary Seacole #1 $cohort$",
        organisation="Example NHS Foundation Trust",
        deadline=datetime(2026, 12, 17, 17, tzinfo=UTC),
        closed_at=datetime(2026, 12, 17, 17, tzinfo=UTC),
        generated_at=datetime(2026, 12, 17, 17, 5, tzinfo=UTC),
    )
    started = time.perf_counter()
    report = render(meta, figures)
    print(f"\nPDF+HTML render took {time.perf_counter() - started:.3f}s for {report.pages} pages")
    return report


def pdf_text(pdf: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"\s+", " ", text)


def test_html_escapes_user_text(rendered) -> None:  # type: ignore[no-untyped-def]
    html = rendered.html
    assert "<script>" not in html
    assert "Great #strong $x^2$ *bold* _under_ &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; \\ back" in html
    assert "Amara #set $O&#39;Kafor$" in html
    assert "direct_report 5" not in html  # the lone direct report is suppressed, comment and all
    assert re.search(r'<th scope="col">', html) and "<caption>" in html


def test_pdf_prints_user_text_literally(rendered) -> None:  # type: ignore[no-untyped-def]
    text = pdf_text(rendered.pdf)
    assert f"{NASTY} peer 2" in text
    assert NASTY_NAME in text
    assert "Mary Seacole #1 $cohort$" in text
    assert "direct_report 5" not in text


def test_pdf_has_all_nine_dimension_titles_and_sections(rendered) -> None:  # type: ignore[no-untyped-def]
    text = pdf_text(rendered.pdf)
    for title in DIMENSION_TITLES.values():
        assert title in text
    for section in (
        "How this report was compiled",
        "Summary by dimension",
        "Importance to the role and rating",
        "Overview: you and others across the nine dimensions",
        "Highest and lowest rated behaviours",
        "Blind spots and hidden strengths",
        "Behaviours in detail",
        "Comments",
        "Your feedback conversation and development actions",
    ):
        assert section in text
    assert rendered.pages == len(PdfReader(io.BytesIO(rendered.pdf)).pages) >= 5
    assert PdfReader(io.BytesIO(rendered.pdf)).pages[0].mediabox.width == pytest.approx(595.28, abs=1)  # A4


def test_settings_refuse_a_group_size_below_two() -> None:
    secret = "k" * 40
    with pytest.raises(ValidationError):
        Settings(database_url="postgresql+asyncpg://u:s3cr3t-value@h/db", link_secret=secret, min_group_size=1)
    with pytest.raises(ValidationError):
        Settings(database_url="postgresql+asyncpg://u:s3cr3t-value@h/db", link_secret="short")
    assert Settings(database_url="postgresql+asyncpg://u:s3cr3t-value@h/db", link_secret=secret).min_group_size == 3
