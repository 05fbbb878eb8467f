"""Every PDF the reports service makes is PDF/UA-1 by veraPDF (ADR 25): the realistic 360 report, a
self-assessment and a cohort report, validated in one veraPDF run (its JVM start is most of the cost).
veraPDF comes from deploy/local/verapdf.sh, which installs it on first use: a missing or broken
veraPDF fails these tests, never skips them."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reports.bench import CYCLE, VERSION, realistic_document, realistic_responses
from reports.domain import cohort_figures, compile_figures, self_assessment_figures
from reports.itembank import wording_for
from reports.pages import render_cohort, render_self_assessment
from reports.pdf import render_pdf
from shared.contracts.vocabulary import RaterGroup

REPO = Path(__file__).resolve().parents[2]
VERAPDF = REPO / "deploy" / "local" / "verapdf.sh"
COMPLETED = datetime(2026, 12, 17, 17, tzinfo=UTC)


def _self_assessment() -> bytes:
    (own,) = [r for r in realistic_responses() if r.group is RaterGroup.SELF]
    figures = self_assessment_figures(own, wording=wording_for(VERSION, first_person=True))
    return render_self_assessment(figures, completed_at=COMPLETED).pdf


def _cohort() -> bytes:
    wording = wording_for(VERSION)
    reports = [
        compile_figures(responses, cycle_id=CYCLE, threshold=3, gap_threshold=0.75, wording=wording)
        for responses in (realistic_responses(seed=seed) for seed in (7, 11, 13, 17))
    ]
    figures = cohort_figures(reports, threshold=3)
    return render_cohort(figures, programme="Mary Seacole Programme 2027 cohort 1", generated_at=COMPLETED).pdf


DOCUMENTS = {
    "report": lambda: render_pdf(realistic_document()),
    "self_assessment": _self_assessment,
    "cohort": _cohort,
}


@dataclass(frozen=True)
class Verdict:
    passed_rules: int
    failed: list[str]  # "<specification> <clause>-<test>: <description> (<n> failed checks)"


def _verdict(job: dict[str, Any]) -> Verdict:
    results = job.get("validationResult")
    if not results:
        raise AssertionError(f"veraPDF did not validate {job.get('itemDetails')}: {json.dumps(job)[:2000]}")
    (result,) = results if isinstance(results, list) else [results]
    details = result["details"]
    failed = [
        f"{rule['specification']} {rule['clause']}-{rule['testNumber']}: {rule['description']}"
        f" ({rule.get('failedChecks', '?')} failed checks)"
        for rule in details["ruleSummaries"]
        if rule.get("ruleStatus") == "FAILED"
    ]
    assert result["profileName"].startswith("PDF/UA-1"), result["profileName"]
    return Verdict(passed_rules=details["passedRules"], failed=failed)


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Verdict]:
    folder = tmp_path_factory.mktemp("pdfua")
    paths = {name: folder / f"{name}.pdf" for name in DOCUMENTS}
    for name, make in DOCUMENTS.items():
        paths[name].write_bytes(make())
    run = subprocess.run(
        ["bash", str(VERAPDF), "run", "--flavour", "ua1", "--format", "json", *map(str, paths.values())],
        capture_output=True,
        text=True,
        timeout=600,  # a first run fetches the jar from Maven Central
    )
    # veraPDF exits 0 when every file is compliant, 1 when some is not; anything else is its own failure
    assert run.returncode in (0, 1), f"veraPDF failed (exit {run.returncode}): {run.stderr[-3000:]}"
    jobs = json.loads(run.stdout)["report"]["jobs"]
    by_path = {job["itemDetails"]["name"]: _verdict(job) for job in jobs}
    return {name: by_path[str(path)] for name, path in paths.items()}


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_pdf_is_pdf_ua_1_by_verapdf(name: str, verdicts: dict[str, Verdict]) -> None:
    verdict = verdicts[name]
    assert not verdict.failed, f"{name}.pdf fails PDF/UA-1 rules:\n" + "\n".join(verdict.failed)
    assert verdict.passed_rules >= 100  # the whole UA-1 profile ran, not an empty one


def test_text_the_fonts_cannot_show_never_costs_anyone_their_report() -> None:
    """PDF/UA-1 refuses a character without a glyph; people write in any script (and fuzzed events
    carry control characters): the report is still made, without the PDF/UA claim."""
    (own,) = [r for r in realistic_responses() if r.group is RaterGroup.SELF]
    for text in ("很好 谢谢", "a\x00b", "\ufffe"):
        written = replace(own, comments=(replace(own.comments[0], text=text),))
        figures = self_assessment_figures(written, wording=wording_for(VERSION, first_person=True))
        pdf = render_self_assessment(figures, completed_at=COMPLETED).pdf
        assert pdf.startswith(b"%PDF-") and b"pdfuaid" not in pdf, repr(text)
