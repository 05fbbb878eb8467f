"""PDF throughput of the 360 report: typst (what the service uses) against WeasyPrint (baseline).

    python -m reports.bench [--reports N] [--workers W] [--baseline N]

Renders N PDFs of the same realistic report (default item bank, 11 raters, comments with markup
characters, an earlier 360 to compare with) with typst in a process pool of W workers (one typst
compiler per process, fonts loaded once), then the same report's HTML with WeasyPrint, and prints
reports/second for each and the ratio. Target: >= 20 typst PDF reports/second on 2 cores.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from reports.domain import Answer, Comment, Response, compare, compile_figures
from reports.itembank import wording_for
from reports.pages import ReportMeta, document, render_html
from reports.pdf import render_pdf
from shared.contracts.vocabulary import Dimension, RaterGroup
from shared.questionnaire import BANKS_DIR, load_item_bank

VERSION = "hlm360-default-1"
CYCLE = UUID("6f1c1a52-4f3e-4b0e-9d83-2b9c4a7e5d10")
GROUPS = (
    RaterGroup.SELF,
    RaterGroup.LINE_MANAGER,
    *(RaterGroup.PEER,) * 3,
    *(RaterGroup.DIRECT_REPORT,) * 3,
    *(RaterGroup.OTHER,) * 2,
)
COMMENTS = [
    "Always makes time for the team, even on the busiest ward days.",
    "Could delegate more: tries to do everything & ends up stretched.",
    'Explains the "why" behind changes — e.g. the new handover (50% quicker).',
    "Sometimes #quiet in big meetings; speak up more, your ideas are good.",
    "Brilliant at connecting us with the community team <3",
]


def realistic_responses(*, seed: int = 7, shift: int = 0) -> list[Response]:
    """Eleven raters answering every item of the default bank, some 'not observed', with comments."""
    bank = load_item_bank(BANKS_DIR / f"{VERSION}.json")
    rng = random.Random(seed)
    responses = []
    for n, group in enumerate(GROUPS):
        bias = 1 if group is RaterGroup.SELF else 0
        answers = tuple(
            Answer(
                item_id=item.id,
                dimension=section.dimension,
                score=None
                if rng.random() < 0.08
                else max(1, min(5, rng.choice([3, 4, 4, 5]) - rng.randint(0, 1) + bias - shift)),
            )
            for section, item in bank.items
        )
        comments = (
            Comment(question_id="overall_strengths", text=COMMENTS[n % len(COMMENTS)]),
            Comment(question_id="overall_development", text=COMMENTS[(n + 2) % len(COMMENTS)]),
            Comment(question_id="leading_with_care_comment", text=COMMENTS[(n + 4) % len(COMMENTS)]),
        )
        responses.append(
            Response(
                group=group,
                answers=answers,
                importance={d: rng.randint(3, 5) for d in Dimension},
                comments=comments,
            )
        )
    return responses


def realistic_document() -> dict[str, Any]:
    wording = wording_for(VERSION)
    figures = compile_figures(realistic_responses(), cycle_id=CYCLE, threshold=3, gap_threshold=0.75, wording=wording)
    earlier = compile_figures(
        realistic_responses(seed=3, shift=1), cycle_id=CYCLE, threshold=3, gap_threshold=0.75, wording=wording
    )
    figures = figures.model_copy(update={"comparison": compare(figures, earlier, earlier_closed="4 March 2025")})
    meta = ReportMeta(
        participant_name="Amara Okafor",
        programme="Mary Seacole Programme 2027 cohort 1",
        organisation="Example NHS Foundation Trust",
        deadline=datetime(2026, 12, 17, 17, tzinfo=UTC),
        closed_at=datetime(2026, 12, 17, 17, tzinfo=UTC),
        generated_at=datetime(2026, 12, 17, 17, 5, tzinfo=UTC),
    )
    return document(meta, figures)


_doc: dict[str, Any] | None = None


def _typst_pdf(_: int) -> int:
    global _doc
    if _doc is None:
        _doc = realistic_document()
    return len(render_pdf(_doc))


def bench_typst(reports: int, workers: int) -> float:
    # spawn, not fork: typst's compiler runs its own threads, which a forked child would inherit locked
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_typst_pdf, range(workers * 2)))  # warm: fonts loaded, templates parsed
        started = time.perf_counter()
        sizes = list(pool.map(_typst_pdf, range(reports), chunksize=max(1, reports // (workers * 8))))
        elapsed = time.perf_counter() - started
    assert all(size > 10_000 for size in sizes)
    return reports / elapsed


def bench_weasyprint(reports: int) -> float:
    from weasyprint import HTML

    html = render_html(realistic_document())
    HTML(string=html).write_pdf()  # warm
    started = time.perf_counter()
    for _ in range(reports):
        HTML(string=html).write_pdf()
    return reports / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=200, help="typst PDFs to render (default 200)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="processes (default: CPU count)")
    parser.add_argument("--baseline", type=int, default=10, help="WeasyPrint PDFs to render (default 10)")
    args = parser.parse_args(argv)
    pages = len(__import__("pypdf").PdfReader(__import__("io").BytesIO(render_pdf(realistic_document()))).pages)
    print(f"report: {pages} A4 pages, default item bank (36 behaviours), 11 raters; {os.cpu_count()} CPUs")
    typst_rate = bench_typst(args.reports, args.workers)
    print(f"typst:      {typst_rate:7.1f} PDF reports/s  ({args.reports} reports, {args.workers} processes)")
    weasy_rate = bench_weasyprint(args.baseline)
    print(f"WeasyPrint: {weasy_rate:7.1f} PDF reports/s  ({args.baseline} reports, 1 process)")
    print(f"ratio:      typst is {typst_rate / weasy_rate:.1f}x WeasyPrint")
    target = 20.0
    print(f"target:     >= {target:.0f} reports/s: {'met' if typst_rate >= target else 'NOT met'}")
    if typst_rate < target:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
