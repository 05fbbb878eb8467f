"""Pure rules of the 360 report: which groups may be shown, the aggregates, gaps and comment order.

Anonymity is built from *atoms*: for each question (a behaviour, or the importance of a dimension)
and each shown group, the answers of that group. An atom of an anonymous group (peers, direct
reports, others, or the combined small groups) is published only when at least `threshold` of its
raters gave an answer; otherwise it is withheld. Every other figure — a group's dimension average,
"all others", importance, the highest and lowest behaviours, the gaps, the cohort report — is a
sum of published atoms only. So any sum or difference of published figures is again a sum of
published atoms, and no reader can isolate fewer than `threshold` anonymous raters (the
"all raters minus the visible groups" differencing attack finds nothing: the hidden part was never
added in). A property test searches for such leaks by linear algebra over the published figures.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from shared.contracts.vocabulary import DIMENSION_TITLES, Dimension, RaterGroup

ANONYMOUS_GROUPS = (RaterGroup.PEER, RaterGroup.DIRECT_REPORT, RaterGroup.OTHER)
COMBINED = "combined"
ALL_OTHERS = "all_others"
ANONYMOUS_COLUMNS = frozenset({*(g.value for g in ANONYMOUS_GROUPS), COMBINED})
GROUP_LABELS: dict[str, str] = {
    RaterGroup.SELF: "Self",
    RaterGroup.LINE_MANAGER: "Line manager",
    RaterGroup.PEER: "Peers",
    RaterGroup.DIRECT_REPORT: "Direct reports",
    RaterGroup.OTHER: "Others",
    COMBINED: "Other colleagues (combined)",
    ALL_OTHERS: "All others",
}
SCORES = (1, 2, 3, 4, 5)
MIN_THRESHOLD = 2
TOP_BEHAVIOURS = 5
IMPORTANCE = "importance"


@dataclass(frozen=True)
class Answer:
    item_id: str
    dimension: Dimension
    score: int | None


@dataclass(frozen=True)
class Comment:
    question_id: str
    text: str


@dataclass(frozen=True)
class Response:
    """One rater's submitted questionnaire, pseudonymous: the group is all the report may know."""

    group: RaterGroup
    answers: tuple[Answer, ...]
    importance: Mapping[Dimension, int] = field(default_factory=dict)
    comments: tuple[Comment, ...] = ()


@dataclass(frozen=True)
class Behaviour:
    """How the report names an item: its statement (third person) and HLM level."""

    text: str
    level: str


@dataclass(frozen=True)
class Wording:
    """Names from the item bank the report uses; unknown ids fall back to readable ids."""

    behaviours: Mapping[str, Behaviour] = field(default_factory=dict)
    questions: Mapping[str, str] = field(default_factory=dict)

    def behaviour(self, item_id: str) -> Behaviour:
        return self.behaviours.get(item_id) or Behaviour(text=item_id, level="")

    def question(self, question_id: str) -> str:
        return self.questions.get(question_id) or question_title(question_id)


@dataclass(frozen=True)
class ReportGroup:
    key: str
    label: str
    members: tuple[RaterGroup, ...]
    count: int


@dataclass(frozen=True)
class Disclosure:
    """Which rater groups the report shows, pools and suppresses."""

    shown: tuple[ReportGroup, ...]
    pooled: tuple[RaterGroup, ...]
    suppressed: tuple[RaterGroup, ...]
    without_responses: tuple[RaterGroup, ...]

    @property
    def shown_members(self) -> frozenset[RaterGroup]:
        return frozenset(m for g in self.shown for m in g.members)


def check_threshold(threshold: int) -> None:
    if threshold < MIN_THRESHOLD:
        raise ValueError(f"the minimum group size must be at least {MIN_THRESHOLD} (got {threshold})")


def decide_disclosure(counts: Mapping[RaterGroup, int], *, threshold: int) -> Disclosure:
    """Self and line manager by role; anonymous groups alone at >= threshold, else pooled or suppressed."""
    check_threshold(threshold)
    shown: list[ReportGroup] = []
    for role in (RaterGroup.SELF, RaterGroup.LINE_MANAGER):
        if counts.get(role, 0) > 0:
            shown.append(ReportGroup(key=role, label=GROUP_LABELS[role], members=(role,), count=counts[role]))
    below: list[RaterGroup] = []
    for group in ANONYMOUS_GROUPS:
        n = counts.get(group, 0)
        if n >= threshold:
            shown.append(ReportGroup(key=group, label=GROUP_LABELS[group], members=(group,), count=n))
        elif n > 0:
            below.append(group)
    pooled_count = sum(counts[g] for g in below)
    pooled: tuple[RaterGroup, ...] = ()
    suppressed: tuple[RaterGroup, ...] = tuple(below)
    if below and pooled_count >= threshold:
        shown.append(
            ReportGroup(key=COMBINED, label=GROUP_LABELS[COMBINED], members=tuple(below), count=pooled_count)
        )
        pooled, suppressed = tuple(below), ()
    without = tuple(g for g in RaterGroup if counts.get(g, 0) == 0)
    return Disclosure(shown=tuple(shown), pooled=pooled, suppressed=suppressed, without_responses=without)


# --- figures: one answer set summarised, and sums of summaries --------------------------------


def summarise(scores: Iterable[int | None]) -> dict[str, Any]:
    """Mean and count over observed scores ('not observed' excluded), with the distribution 1..5."""
    values = list(scores)
    observed = [s for s in values if s is not None]
    return _figure([observed.count(s) for s in SCORES], not_observed=len(values) - len(observed))


def _figure(distribution: list[int], *, not_observed: int) -> dict[str, Any]:
    count = sum(distribution)
    total = sum(s * n for s, n in zip(SCORES, distribution, strict=True))
    return {
        "mean": round(total / count, 2) if count else None,
        "count": count,
        "not_observed": not_observed,
        "distribution": distribution,
        "withheld": False,
    }


WITHHELD: dict[str, Any] = {
    "mean": None,
    "count": None,
    "not_observed": None,
    "distribution": None,
    "withheld": True,
}


def combine(figures: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The figure of the union of several published figures (withheld ones are never added in)."""
    distribution = [0] * len(SCORES)
    not_observed = 0
    for figure in figures:
        if figure["withheld"]:
            continue
        distribution = [a + b for a, b in zip(distribution, figure["distribution"], strict=True)]
        not_observed += figure["not_observed"]
    return _figure(distribution, not_observed=not_observed)


def atom(scores: Sequence[int | None], *, anonymous: bool, threshold: int) -> dict[str, Any]:
    """One group's answers to one question; withheld when fewer than `threshold` anonymous raters answered."""
    figure = summarise(scores)
    if anonymous and 0 < figure["count"] < threshold:
        return dict(WITHHELD)
    return figure


# --- the report's figures ------------------------------------------------------------------------


def _shuffled(texts: Iterable[str], *, seed: str) -> list[str]:
    # Sorted first so the order never reflects arrival order (which could expose a late rater).
    ordered = sorted(texts)
    random.Random(seed).shuffle(ordered)
    return ordered


def question_title(question_id: str) -> str:
    return question_id.replace("_", " ").replace("-", " ").strip().capitalize()


def _gap_flag(gap: float | None, *, gap_threshold: float) -> str | None:
    if gap is not None and gap >= gap_threshold:
        return "blind_spot"
    if gap is not None and gap <= -gap_threshold:
        return "hidden_strength"
    return None


def _item_order(item_id: str, wording: Wording) -> tuple[int, str]:
    levels = ("essential", "proficient", "strong", "exemplary")
    level = wording.behaviour(item_id).level
    return (levels.index(level) if level in levels else len(levels), item_id)


def compile_figures(
    responses: Sequence[Response],
    *,
    cycle_id: UUID,
    threshold: int,
    gap_threshold: float,
    wording: Wording | None = None,
) -> dict[str, Any]:
    """The anonymised aggregates of a cycle: the only data the report is rendered from."""
    wording = wording or Wording()
    counts: dict[RaterGroup, int] = {}
    for response in responses:
        counts[response.group] = counts.get(response.group, 0) + 1
    disclosure = decide_disclosure(counts, threshold=threshold)
    shown = disclosure.shown
    by_column = {g.key: [r for r in responses if r.group in g.members] for g in shown}
    others_keys = [g.key for g in shown if g.key != RaterGroup.SELF]
    others_count = sum(g.count for g in shown if g.key != RaterGroup.SELF)
    column_keys = [g.key for g in shown] + ([ALL_OTHERS] if others_keys else [])

    def question_figures(scores_of: Any) -> dict[str, dict[str, Any]]:
        atoms = {
            key: atom([scores_of(r) for r in rs], anonymous=key in ANONYMOUS_COLUMNS, threshold=threshold)
            for key, rs in by_column.items()
        }
        if others_keys:
            atoms[ALL_OTHERS] = combine(atoms[k] for k in others_keys)
        return atoms

    visible = [r for r in responses if r.group in disclosure.shown_members]
    item_dimension: dict[str, Dimension] = {}
    for response in visible:
        for answer in response.answers:
            item_dimension.setdefault(answer.item_id, answer.dimension)

    dimensions: list[dict[str, Any]] = []
    items_ranked: list[dict[str, Any]] = []
    for dimension in Dimension:
        item_ids = sorted(
            (i for i, d in item_dimension.items() if d is dimension), key=lambda i: _item_order(i, wording)
        )
        items: list[dict[str, Any]] = []
        for item_id in item_ids:

            def score_of(r: Response, item_id: str = item_id) -> int | None:
                return next((a.score for a in r.answers if a.item_id == item_id), None)

            behaviour = wording.behaviour(item_id)
            entry: dict[str, Any] = {
                "item_id": item_id,
                "text": behaviour.text,
                "level": behaviour.level,
                "by_group": question_figures(score_of),
            }
            items.append(entry)
            others = entry["by_group"].get(ALL_OTHERS)
            if others and others["mean"] is not None:
                items_ranked.append(
                    {
                        "item_id": item_id,
                        "text": behaviour.text,
                        "dimension": dimension.value,
                        "title": DIMENSION_TITLES[dimension],
                        "mean": others["mean"],
                        "count": others["count"],
                    }
                )
        by_group = {key: combine(item["by_group"][key] for item in items) for key in column_keys}
        self_mean = by_group.get(RaterGroup.SELF, {}).get("mean")
        others_mean = by_group.get(ALL_OTHERS, {}).get("mean")
        gap = round(self_mean - others_mean, 2) if self_mean is not None and others_mean is not None else None
        importance = question_figures(lambda r, d=dimension: r.importance.get(d))
        dimensions.append(
            {
                "dimension": dimension.value,
                "title": DIMENSION_TITLES[dimension],
                "by_group": by_group,
                "gap": gap,
                "flag": _gap_flag(gap, gap_threshold=gap_threshold),
                "importance": importance,
                "items": items,
            }
        )

    top = min(TOP_BEHAVIOURS, len(items_ranked) // 2)
    highest = sorted(items_ranked, key=lambda i: (-i["mean"], i["item_id"]))[:top]
    lowest = sorted(items_ranked, key=lambda i: (i["mean"], i["item_id"]))[:top]

    commenting = [r for r in visible if r.group is not RaterGroup.SELF]
    self_responses = by_column.get(RaterGroup.SELF, [])

    def grouped(rs: Sequence[Response], *, shuffle: bool) -> list[dict[str, Any]]:
        ids = sorted({c.question_id for r in rs for c in r.comments}, key=_question_order)
        return [
            {
                "question_id": q,
                "title": wording.question(q),
                "texts": _shuffled(texts, seed=f"{cycle_id}:{q}") if shuffle else sorted(texts),
            }
            for q in ids
            for texts in [[c.text for r in rs for c in r.comments if c.question_id == q]]
        ]

    return {
        "threshold": threshold,
        "gap_threshold": gap_threshold,
        "columns": [
            {"key": g.key, "label": g.label, "count": g.count, "members": [m.value for m in g.members]}
            for g in shown
        ]
        + (
            [{"key": ALL_OTHERS, "label": GROUP_LABELS[ALL_OTHERS], "count": others_count, "members": others_keys}]
            if others_keys
            else []
        ),
        "pooled": [g.value for g in disclosure.pooled],
        "suppressed": [g.value for g in disclosure.suppressed],
        "without_responses": [g.value for g in disclosure.without_responses],
        "dimensions": dimensions,
        "highest": highest,
        "lowest": lowest,
        "blind_spots": [_gap_summary(d) for d in dimensions if d["flag"] == "blind_spot"],
        "hidden_strengths": [_gap_summary(d) for d in dimensions if d["flag"] == "hidden_strength"],
        "withheld_items": sum(
            1 for d in dimensions for i in [*d["items"], {"by_group": d["importance"]}]
            for f in i["by_group"].values() if f["withheld"]
        ),
        "comments": grouped(commenting, shuffle=True),
        "own_comments": grouped(self_responses, shuffle=False),
        "comparison": None,
    }


def _question_order(question_id: str) -> tuple[int, str]:
    # Overall questions first, then per-dimension ones in the model's order.
    dims = [d.value for d in Dimension]
    stem = question_id.removesuffix("_comment")
    return (1 + dims.index(stem), question_id) if stem in dims else (0, question_id)


def _gap_summary(d: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "dimension": d["dimension"],
        "title": d["title"],
        "gap": d["gap"],
        "self": d["by_group"][RaterGroup.SELF]["mean"],
        "others": d["by_group"][ALL_OTHERS]["mean"],
    }


def compare(current: Mapping[str, Any], earlier: Mapping[str, Any], *, earlier_closed: str) -> dict[str, Any]:
    """Progress since an earlier 360 of the same person: both reports' published dimension figures only."""
    earlier_dims = {d["dimension"]: d for d in earlier["dimensions"]}
    rows = []
    for d in current["dimensions"]:
        before = earlier_dims.get(d["dimension"])

        def mean(entry: Mapping[str, Any] | None, key: str) -> float | None:
            if entry is None:
                return None
            figure = entry["by_group"].get(key)
            return figure["mean"] if figure else None

        now_others, then_others = mean(d, ALL_OTHERS), mean(before, ALL_OTHERS)
        rows.append(
            {
                "dimension": d["dimension"],
                "title": d["title"],
                "self_then": mean(before, RaterGroup.SELF),
                "self_now": mean(d, RaterGroup.SELF),
                "others_then": then_others,
                "others_now": now_others,
                "change": round(now_others - then_others, 2)
                if now_others is not None and then_others is not None
                else None,
            }
        )
    return {"earlier_closed": earlier_closed, "dimensions": rows}


def responses_complete(stored: Mapping[RaterGroup, int], expected: Mapping[RaterGroup, int]) -> bool:
    """True when the stored responses per group equal the counts the closed cycle announced."""
    return {g: n for g, n in stored.items() if n} == {g: n for g, n in expected.items() if n}


# --- cohort: many participants' published figures --------------------------------------------

COHORT_COLUMNS = (RaterGroup.SELF.value, RaterGroup.LINE_MANAGER.value, ALL_OTHERS)


def cohort_figures(reports: Sequence[Mapping[str, Any]], *, threshold: int) -> dict[str, Any]:
    """Aggregate published report figures across participants (never raw answers).

    Each participant's figures are already safe for their raters; the cohort adds the rule that a
    column appears only when at least `threshold` participants contribute to it, so no single
    participant's (or their line manager's) result can be read off the cohort report.
    """
    check_threshold(threshold)
    if len(reports) < threshold:
        raise ValueError(f"a cohort report needs at least {threshold} participants (got {len(reports)})")
    dimensions = []
    for dimension in Dimension:
        by_group: dict[str, dict[str, Any]] = {}
        importance: dict[str, dict[str, Any]] = {}
        for key in COHORT_COLUMNS:
            for target, pick in ((by_group, "by_group"), (importance, "importance")):
                parts = [
                    d[pick][key]
                    for figures in reports
                    for d in figures["dimensions"]
                    if d["dimension"] == dimension.value and key in d[pick] and d[pick][key]["count"]
                ]
                target[key] = combine(parts) if len(parts) >= threshold else dict(WITHHELD)
                target[key]["participants"] = len(parts)
        self_mean, others_mean = by_group[RaterGroup.SELF]["mean"], by_group[ALL_OTHERS]["mean"]
        dimensions.append(
            {
                "dimension": dimension.value,
                "title": DIMENSION_TITLES[dimension],
                "by_group": by_group,
                "importance": importance,
                "gap": round(self_mean - others_mean, 2) if self_mean is not None and others_mean is not None else None,
            }
        )
    return {
        "threshold": threshold,
        "participants": len(reports),
        "columns": [{"key": k, "label": GROUP_LABELS[k]} for k in COHORT_COLUMNS],
        "dimensions": dimensions,
    }


def cohort_snapshot_allowed(previous: Iterable[frozenset[str]], candidate: frozenset[str], *, threshold: int) -> bool:
    """A new cohort snapshot must differ from every earlier one by at least `threshold` participants,
    so that subtracting two snapshots never isolates fewer than `threshold` people."""
    return all(len(candidate ^ earlier) >= threshold or candidate == earlier for earlier in previous)


# --- the free self-assessment: one person's own answers, for their eyes only ------------------


def self_assessment_figures(response: Response, *, wording: Wording) -> dict[str, Any]:
    """Per dimension: the person's own ratings of each behaviour, their average and the importance they gave."""
    dimensions: list[dict[str, Any]] = []
    for dimension in Dimension:
        answers = sorted(
            (a for a in response.answers if a.dimension is dimension), key=lambda a: _item_order(a.item_id, wording)
        )
        figure = summarise(a.score for a in answers)
        dimensions.append(
            {
                "dimension": dimension.value,
                "title": DIMENSION_TITLES[dimension],
                "figure": figure,
                "importance": response.importance.get(dimension),
                "items": [
                    {
                        "item_id": a.item_id,
                        "text": wording.behaviour(a.item_id).text,
                        "level": wording.behaviour(a.item_id).level,
                        "score": a.score,
                    }
                    for a in answers
                ],
            }
        )
    rated = [d for d in dimensions if d["figure"]["mean"] is not None]
    ordered = sorted(rated, key=lambda d: (-d["figure"]["mean"], d["dimension"]))
    top = min(3, len(ordered) // 2)
    return {
        "dimensions": dimensions,
        "strongest": [d["title"] for d in ordered[:top]],
        "to_develop": [d["title"] for d in list(reversed(ordered))[:top]],
        "comments": [
            {
                "question_id": q,
                "title": wording.question(q),
                "texts": [c.text for c in response.comments if c.question_id == q],
            }
            for q in sorted({c.question_id for c in response.comments}, key=_question_order)
        ],
    }
