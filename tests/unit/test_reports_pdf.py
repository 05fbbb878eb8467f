"""The realistic 360 report as a person sees it: text from the PDF (pdftotext), page images for a
person to look at (test-artifacts/report-pages/), fonts, tags, links, hostile comment text, and no
nearly blank pages (pdftotext -bbox: how far down each page the text reaches)."""

import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from reports import links
from reports.bench import CYCLE, realistic_document, realistic_responses
from reports.domain import Comment, Response, compile_figures
from reports.itembank import wording_for
from reports.pages import ReportMeta, document, render, render_html
from reports.pdf import render_pdf
from shared.contracts.vocabulary import DIMENSION_TITLES, RaterGroup
from shared.links import SigningKeys

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "report-pages"
HOSTILE = '#set page(fill: red) $x^2$ *bold* <script>alert("x")</script> ]) \\ "}` @label <b>&amp;'
SECRET = "the lone direct report said this"


def pdftotext(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


CM = 72 / 2.54  # PDF points
PAGE_TOP, PAGE_BOTTOM = 2 * CM, 2.2 * CM  # report.typ's page margins; the footer sits in the bottom one


def page_fill(pdf: bytes, tmp_path: Path) -> list[float]:
    """For each page, how far down its text area the text reaches (0 = blank, 1 = full), by word boxes
    from `pdftotext -bbox` (the footer is left out; bar charts count through their labels)."""
    path = tmp_path / "fill.pdf"
    path.write_bytes(pdf)
    xml = subprocess.run(["pdftotext", "-bbox", str(path), "-"], check=True, capture_output=True, text=True).stdout
    fills = []
    for height, words in re.findall(r'<page width="[\d.]+" height="([\d.]+)">(.*?)</page>', xml, re.S):
        bottom = float(height) - PAGE_BOTTOM
        lowest = max((float(y) for y in re.findall(r'yMax="([\d.]+)"', words) if float(y) <= bottom), default=PAGE_TOP)
        fills.append((lowest - PAGE_TOP) / (bottom - PAGE_TOP))
    return fills


@pytest.fixture(scope="module")
def hostile_report() -> tuple[bytes, str]:
    """The realistic report, plus one peer comment full of markup and a suppressed lone direct report."""
    responses = realistic_responses()
    # self, line manager, 3 peers; the lone direct report cannot be pooled with anyone: suppressed
    responses = [r for r in responses if r.group not in (RaterGroup.DIRECT_REPORT, RaterGroup.OTHER)]
    responses[2] = Response(
        group=responses[2].group,
        answers=responses[2].answers,
        importance=responses[2].importance,
        comments=(Comment(question_id="overall_strengths", text=HOSTILE),),
    )
    lone = realistic_responses(seed=99)[5]
    responses.append(
        Response(group=RaterGroup.DIRECT_REPORT, answers=lone.answers, comments=(Comment("overall_strengths", SECRET),))
    )
    rendered = render(*_meta_and_figures(responses))
    return rendered.pdf, rendered.html


def test_pdf_text_has_every_section_dimension_and_behaviour_and_prints_hostile_text_literally(
    hostile_report: tuple[bytes, str], tmp_path: Path
) -> None:
    pdf, _ = hostile_report
    text = flat(pdftotext(pdf, tmp_path))
    for title in DIMENSION_TITLES.values():
        assert title in text
    for section in (
        "How this report was compiled",
        "Overview: you and others across the nine dimensions",
        "Importance to the role and rating",
        "Highest and lowest rated behaviours",
        "Blind spots and hidden strengths",
        "Behaviours in detail",
        "Comments",
        "Your feedback conversation and development actions",
    ):
        assert section in text
    assert "differ by 0.75 points or more" in text  # the threshold is stated
    assert "They act in line with NHS values in their day-to-day work" in text  # behaviours named, third person
    assert "What are their main strengths as a leader?" in text
    assert flat(HOSTILE) in text  # typeset as written, not as typst markup
    assert SECRET not in text  # the lone direct report is suppressed, comment and all
    assert text.count("Direct reports") == 1
    assert "Left out to protect anonymity (too few responses): Direct reports" in text
    assert "@" not in text.replace(HOSTILE, "").replace("@label", "")  # no email address anywhere


def test_html_escapes_hostile_text_and_drops_the_suppressed_group(hostile_report: tuple[bytes, str]) -> None:
    _, html = hostile_report
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&lt;b&gt;&amp;amp;" in html
    assert SECRET not in html
    assert "<caption>" in html and '<th scope="col">' in html and 'role="img"' in html


def test_pdf_is_a4_tagged_with_embedded_fonts(hostile_report: tuple[bytes, str], tmp_path: Path) -> None:
    pdf, _ = hostile_report
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    assert "Tagged:          yes" in info and "595.276 x 841.89 pts (A4)" in info
    fonts = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts  # the 'emb' column


def test_page_images_of_the_realistic_report_are_saved_for_a_person_to_look_at(tmp_path: Path) -> None:
    doc = realistic_document()
    pdf = render_pdf(doc)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("page-*.png"):
        old.unlink()
    (ARTIFACTS / "report.pdf").write_bytes(pdf)
    (ARTIFACTS / "report.html").write_text(render_html(doc), encoding="utf-8")
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(ARTIFACTS / "report.pdf"), str(ARTIFACTS / "page")], check=True)
    pages = sorted(ARTIFACTS.glob("page-*.png"))
    assert len(pages) >= 9 and all(p.stat().st_size > 5_000 for p in pages)
    text = flat(pdftotext(pdf, tmp_path))
    assert "Progress since your earlier 360" in text and "4 March 2025" in text


def _meta_and_figures(responses: list[Response]) -> tuple[ReportMeta, Any]:
    """The report of these responses for the realistic participant (default wording, threshold 3)."""
    figures = compile_figures(
        responses, cycle_id=CYCLE, threshold=3, gap_threshold=0.75, wording=wording_for("hlm360-default-1")
    )
    meta = ReportMeta(
        participant_name="Amara Okafor",
        programme=None,
        organisation="Example NHS Foundation Trust",
        deadline=datetime(2026, 12, 17, 17, tzinfo=UTC),
        closed_at=datetime(2026, 12, 17, 17, tzinfo=UTC),
        generated_at=datetime(2026, 12, 17, 17, 5, tzinfo=UTC),
    )
    return meta, figures


def _document(responses: list[Response]) -> dict[str, Any]:
    return document(*_meta_and_figures(responses))


def _silent(responses: list[Response]) -> list[Response]:
    return [Response(group=r.group, answers=r.answers, importance=r.importance) for r in responses]


def _first_raters(n: int) -> dict[str, Any]:
    return _document(realistic_responses(seed=n)[:n])


# The realistic report and other shapes of cycle: fewer groups, no comments, no earlier 360.
SHAPES: dict[str, Callable[[], dict[str, Any]]] = {
    "realistic": realistic_document,
    "no earlier 360": lambda: _document(realistic_responses()),
    "self, line manager, peers": lambda: _document(
        [r for r in realistic_responses() if r.group not in (RaterGroup.DIRECT_REPORT, RaterGroup.OTHER)]
    ),
    "no comments": lambda: _document(_silent(realistic_responses())),
    "self and line manager": lambda: _document(realistic_responses()[:2]),
    **{f"first {n} raters": partial(_first_raters, n) for n in (6, 7, 9)},
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_no_page_but_the_last_is_mostly_blank(shape: str, tmp_path: Path) -> None:
    # Sections flow on from each other; forced page breaks used to leave pages with a few lines on them
    # (the blind spots alone on page 7 of 18). Unbreakable blocks are under two-thirds of a page, so a
    # page they move away from is still at least a third full.
    fills = page_fill(render_pdf(SHAPES[shape]()), tmp_path)
    assert len(fills) >= 9
    short = {page: round(fill, 2) for page, fill in enumerate(fills[:-1], start=1) if fill < 0.33}
    assert not short, f"{shape}: pages less than a third full (page: fill) {short} of {len(fills)}"


def test_blind_spots_stay_with_their_heading_and_the_conversation_page_is_whole(tmp_path: Path) -> None:
    pdf = render_pdf(realistic_document())
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    pages = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True)
    texts = [flat(page) for page in pages.stdout.split("\f")]
    (gaps,) = [t for t in texts if "Blind spots and hidden strengths" in t]
    assert "Blind spots: you rate yourself higher" in gaps and "Hidden strengths: others rate you higher" in gaps
    (conversation,) = [t for t in texts if "Your feedback conversation and development actions" in t]
    assert "What stands out for me" in conversation and "Development actions" in conversation


def test_links_are_signed_bound_to_their_holder_and_expire() -> None:
    keys = SigningKeys(b"s" * 40)
    link = links.Link(
        kind="report",
        subject_id=uuid4(),
        role="facilitator",
        holder_id=uuid4(),
        expires_at=datetime(2027, 1, 1, tzinfo=UTC),
    )
    token = links.sign(link, keys=keys)
    assert links.verify(token, keys=keys) == link
    assert not links.expired(link, now=link.expires_at - timedelta(seconds=1))
    assert links.expired(link, now=link.expires_at)
    forged = token.replace("facilitator", "participant")
    for bad in (forged, token[:-1] + ("0" if token[-1] != "0" else "1"), "nonsense", ""):
        with pytest.raises(links.BadLink):
            links.verify(bad, keys=keys)
    with pytest.raises(links.BadLink):
        links.verify(token, keys=SigningKeys(b"t" * 40))
    # rotation: still valid while its secret is a previous one, refused once it is removed
    assert links.verify(token, keys=SigningKeys(b"t" * 40, previous=(b"s" * 40,))) == link
