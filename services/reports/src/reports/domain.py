"""Pure rules of the 360 report: which groups may be shown, the aggregates, gaps and comment order.

Everything the report publishes is computed here from the groups that are shown, and only from
them, so no published figure can be combined with another to reveal a suppressed group.
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
    def others(self) -> ReportGroup | None:
        """Every shown group except self, as one figure (never including a suppressed group)."""
        members = tuple(m for g in self.shown if g.key != RaterGroup.SELF for m in g.members)
        if not members:
            return None
        count = sum(g.count for g in self.shown if g.key != RaterGroup.SELF)
        return ReportGroup(key=ALL_OTHERS, label=GROUP_LABELS[ALL_OTHERS], members=members, count=count)

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


def summarise(scores: Iterable[int | None]) -> dict[str, Any]:
    """Mean and count over observed scores ('not observed' excluded), with the distribution 1..5."""
    values = list(scores)
    observed = [s for s in values if s is not None]
    return {
        "mean": round(sum(observed) / len(observed), 2) if observed else None,
        "count": len(observed),
        "not_observed": len(values) - len(observed),
        "distribution": [observed.count(s) for s in SCORES],
    }


def _raw_mean(values: Sequence[int]) -> float | None:
    return sum(values) / len(values) if values else None


def _group_responses(responses: Sequence[Response], group: ReportGroup) -> list[Response]:
    return [r for r in responses if r.group in group.members]


def _scores(responses: Iterable[Response], *, dimension: Dimension, item_id: str | None = None) -> list[int | None]:
    return [
        a.score
        for r in responses
        for a in r.answers
        if a.dimension is dimension and (item_id is None or a.item_id == item_id)
    ]


def _shuffled(texts: Iterable[str], *, seed: str) -> list[str]:
    # Sorted first so the order never reflects arrival order (which could expose a late rater).
    ordered = sorted(texts)
    random.Random(seed).shuffle(ordered)
    return ordered


def question_title(question_id: str) -> str:
    return question_id.replace("_", " ").replace("-", " ").strip().capitalize()


def compile_figures(
    responses: Sequence[Response], *, cycle_id: UUID, threshold: int, gap_threshold: float
) -> dict[str, Any]:
    """The anonymised aggregates of a cycle: the only data the report is rendered from."""
    counts: dict[RaterGroup, int] = {}
    for response in responses:
        counts[response.group] = counts.get(response.group, 0) + 1
    disclosure = decide_disclosure(counts, threshold=threshold)
    visible = [r for r in responses if r.group in disclosure.shown_members]
    others = disclosure.others
    columns = [*disclosure.shown, *([others] if others else [])]
    by_column = {g.key: _group_responses(visible, g) for g in columns}
    self_responses = by_column.get(RaterGroup.SELF, [])
    others_responses = by_column.get(ALL_OTHERS, [])

    item_dimension: dict[str, Dimension] = {}
    for response in visible:
        for answer in response.answers:
            item_dimension.setdefault(answer.item_id, answer.dimension)
    dimension_order = list(Dimension)

    dimensions: list[dict[str, Any]] = []
    items_ranked: list[dict[str, Any]] = []
    blind_spots: list[dict[str, Any]] = []
    hidden_strengths: list[dict[str, Any]] = []
    for dimension in dimension_order:
        items = sorted(i for i, d in item_dimension.items() if d is dimension)
        self_scores = [s for s in _scores(self_responses, dimension=dimension) if s is not None]
        other_scores = [s for s in _scores(others_responses, dimension=dimension) if s is not None]
        self_mean, others_mean = _raw_mean(self_scores), _raw_mean(other_scores)
        gap = round(self_mean - others_mean, 2) if self_mean is not None and others_mean is not None else None
        flag = None
        if gap is not None and gap >= gap_threshold:
            flag = "blind_spot"
        elif gap is not None and gap <= -gap_threshold:
            flag = "hidden_strength"
        importance = [r.importance[dimension] for r in visible if dimension in r.importance]
        importance_mean = _raw_mean(importance)
        entry: dict[str, Any] = {
            "dimension": dimension.value,
            "title": DIMENSION_TITLES[dimension],
            "by_group": {
                key: summarise(_scores(rs, dimension=dimension)) for key, rs in by_column.items()
            },
            "gap": gap,
            "flag": flag,
            "importance": {
                "mean": round(importance_mean, 2) if importance_mean is not None else None,
                "count": len(importance),
            },
            "items": [],
        }
        for item_id in items:
            item_entry: dict[str, Any] = {
                "item_id": item_id,
                "by_group": {
                    key: summarise(_scores(rs, dimension=dimension, item_id=item_id))
                    for key, rs in by_column.items()
                },
            }
            entry["items"].append(item_entry)
            ranked = item_entry["by_group"].get(ALL_OTHERS)
            if ranked and ranked["mean"] is not None:
                items_ranked.append(
                    {
                        "item_id": item_id,
                        "dimension": dimension.value,
                        "title": DIMENSION_TITLES[dimension],
                        "mean": ranked["mean"],
                        "count": ranked["count"],
                    }
                )
        summary = {"dimension": dimension.value, "title": DIMENSION_TITLES[dimension], "gap": gap}
        if flag == "blind_spot":
            blind_spots.append(summary)
        elif flag == "hidden_strength":
            hidden_strengths.append(summary)
        dimensions.append(entry)

    top = min(TOP_BEHAVIOURS, len(items_ranked) // 2)
    highest = sorted(items_ranked, key=lambda i: (-i["mean"], i["item_id"]))[:top]
    lowest = sorted(items_ranked, key=lambda i: (i["mean"], i["item_id"]))[:top]

    commenting = [r for r in visible if r.group is not RaterGroup.SELF]
    question_ids = sorted({c.question_id for r in commenting for c in r.comments})
    comments = [
        {
            "question_id": q,
            "title": question_title(q),
            "texts": _shuffled(
                (c.text for r in commenting for c in r.comments if c.question_id == q), seed=f"{cycle_id}:{q}"
            ),
        }
        for q in question_ids
    ]
    own_question_ids = sorted({c.question_id for r in self_responses for c in r.comments})
    own_comments = [
        {
            "question_id": q,
            "title": question_title(q),
            "texts": sorted(c.text for r in self_responses for c in r.comments if c.question_id == q),
        }
        for q in own_question_ids
    ]

    return {
        "threshold": threshold,
        "gap_threshold": gap_threshold,
        "columns": [
            {"key": g.key, "label": g.label, "count": g.count, "members": [m.value for m in g.members]}
            for g in columns
        ],
        "pooled": [g.value for g in disclosure.pooled],
        "suppressed": [g.value for g in disclosure.suppressed],
        "without_responses": [g.value for g in disclosure.without_responses],
        "dimensions": dimensions,
        "highest": highest,
        "lowest": lowest,
        "blind_spots": blind_spots,
        "hidden_strengths": hidden_strengths,
        "comments": comments,
        "own_comments": own_comments,
    }


def responses_complete(stored: Mapping[RaterGroup, int], expected: Mapping[RaterGroup, int]) -> bool:
    """True when the stored responses per group equal the counts the closed cycle announced."""
    return {g: n for g, n in stored.items() if n} == {g: n for g, n in expected.items() if n}
