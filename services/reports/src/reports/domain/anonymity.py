"""Pure rules of the 360 report: which groups may be shown, and the figures of one answer set.

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

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from reports.domain.figures import Figure
from shared.contracts.vocabulary import Dimension, RaterGroup

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
        shown.append(ReportGroup(key=COMBINED, label=GROUP_LABELS[COMBINED], members=tuple(below), count=pooled_count))
        pooled, suppressed = tuple(below), ()
    without = tuple(g for g in RaterGroup if counts.get(g, 0) == 0)
    return Disclosure(shown=tuple(shown), pooled=pooled, suppressed=suppressed, without_responses=without)


# --- figures: one answer set summarised, and sums of summaries --------------------------------


def summarise(scores: Iterable[int | None]) -> Figure:
    """Mean and count over observed scores ('not observed' excluded), with the distribution 1..5."""
    values = list(scores)
    observed = [s for s in values if s is not None]
    return figure_of([observed.count(s) for s in SCORES], not_observed=len(values) - len(observed))


def figure_of(distribution: Sequence[int], *, not_observed: int) -> Figure:
    count = sum(distribution)
    total = sum(s * n for s, n in zip(SCORES, distribution, strict=True))
    return Figure(
        mean=round(total / count, 2) if count else None,
        count=count,
        not_observed=not_observed,
        distribution=tuple(distribution),
        withheld=False,
    )


WITHHELD = Figure(mean=None, count=None, not_observed=None, distribution=None, withheld=True)


def combine(figures: Iterable[Figure]) -> Figure:
    """The figure of the union of several published figures (withheld ones are never added in)."""
    distribution = [0] * len(SCORES)
    not_observed = 0
    for figure in figures:
        if figure.withheld or figure.distribution is None:
            continue
        distribution = [a + b for a, b in zip(distribution, figure.distribution, strict=True)]
        not_observed += figure.not_observed or 0
    return figure_of(distribution, not_observed=not_observed)


def atom(scores: Sequence[int | None], *, anonymous: bool, threshold: int) -> Figure:
    """One group's answers to one question; withheld when fewer than `threshold` anonymous raters answered."""
    figure = summarise(scores)
    if anonymous and 0 < (figure.count or 0) < threshold:
        return WITHHELD
    return figure


def question_title(question_id: str) -> str:
    return question_id.replace("_", " ").replace("-", " ").strip().capitalize()


def item_order(item_id: str, wording: Wording) -> tuple[int, str]:
    levels = ("essential", "proficient", "strong", "exemplary")
    level = wording.behaviour(item_id).level
    return (levels.index(level) if level in levels else len(levels), item_id)


def question_order(question_id: str) -> tuple[int, str]:
    # Overall questions first, then per-dimension ones in the model's order.
    dims = [d.value for d in Dimension]
    stem = question_id.removesuffix("_comment")
    return (1 + dims.index(stem), question_id) if stem in dims else (0, question_id)


def responses_complete(stored: Mapping[RaterGroup, int], expected: Mapping[RaterGroup, int]) -> bool:
    """True when the stored responses per group equal the counts the closed cycle announced."""
    return {g: n for g, n in stored.items() if n} == {g: n for g, n in expected.items() if n}
