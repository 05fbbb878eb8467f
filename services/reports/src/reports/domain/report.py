"""A cycle's 360 report figures: per dimension and item for every shown group, the highest and
lowest behaviours, blind spots and hidden strengths, comments, and progress since an earlier 360."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

from reports.domain.anonymity import (
    ALL_OTHERS,
    ANONYMOUS_COLUMNS,
    GROUP_LABELS,
    TOP_BEHAVIOURS,
    Disclosure,
    Response,
    Wording,
    atom,
    combine,
    decide_disclosure,
    item_order,
    question_order,
)
from reports.domain.figures import (
    Column,
    CommentGroup,
    Comparison,
    ComparisonRow,
    DimensionFigures,
    Figure,
    GapSummary,
    ItemFigures,
    RankedItem,
    ReportFigures,
)
from shared.contracts.vocabulary import DIMENSION_TITLES, Dimension, RaterGroup


@dataclass(frozen=True)
class _Columns:
    """The shown groups of one cycle, the responses of each, and who counts as 'all others'."""

    disclosure: Disclosure
    by_column: dict[str, list[Response]]
    others_keys: list[str]
    threshold: int

    @property
    def keys(self) -> list[str]:
        return [g.key for g in self.disclosure.shown] + ([ALL_OTHERS] if self.others_keys else [])

    def question_figures(self, scores_of: Callable[[Response], int | None]) -> dict[str, Figure]:
        """One question's atom per shown group, and 'all others' as the sum of the published ones."""
        atoms = {
            key: atom([scores_of(r) for r in rs], anonymous=key in ANONYMOUS_COLUMNS, threshold=self.threshold)
            for key, rs in self.by_column.items()
        }
        if self.others_keys:
            atoms[ALL_OTHERS] = combine(atoms[k] for k in self.others_keys)
        return atoms


def _columns_of(responses: Sequence[Response], *, threshold: int) -> _Columns:
    counts: dict[RaterGroup, int] = {}
    for response in responses:
        counts[response.group] = counts.get(response.group, 0) + 1
    disclosure = decide_disclosure(counts, threshold=threshold)
    return _Columns(
        disclosure=disclosure,
        by_column={g.key: [r for r in responses if r.group in g.members] for g in disclosure.shown},
        others_keys=[g.key for g in disclosure.shown if g.key != RaterGroup.SELF],
        threshold=threshold,
    )


def _shuffled(texts: Iterable[str], *, seed: str) -> list[str]:
    # Sorted first so the order never reflects arrival order (which could expose a late rater).
    ordered = sorted(texts)
    random.Random(seed).shuffle(ordered)
    return ordered


def _gap_flag(gap: float | None, *, gap_threshold: float) -> str | None:
    if gap is not None and gap >= gap_threshold:
        return "blind_spot"
    if gap is not None and gap <= -gap_threshold:
        return "hidden_strength"
    return None


def _item(item_id: str, columns: _Columns, wording: Wording) -> ItemFigures:
    def score_of(r: Response) -> int | None:
        return next((a.score for a in r.answers if a.item_id == item_id), None)

    behaviour = wording.behaviour(item_id)
    return ItemFigures(
        item_id=item_id, text=behaviour.text, level=behaviour.level, by_group=columns.question_figures(score_of)
    )


def _dimension(
    dimension: Dimension, item_ids: Iterable[str], columns: _Columns, *, wording: Wording, gap_threshold: float
) -> DimensionFigures:
    items = tuple(_item(i, columns, wording) for i in sorted(item_ids, key=lambda i: item_order(i, wording)))
    by_group = {key: combine(item.by_group[key] for item in items) for key in columns.keys}
    self_figure, others_figure = by_group.get(RaterGroup.SELF), by_group.get(ALL_OTHERS)
    self_mean = self_figure.mean if self_figure else None
    others_mean = others_figure.mean if others_figure else None
    gap = round(self_mean - others_mean, 2) if self_mean is not None and others_mean is not None else None
    return DimensionFigures(
        dimension=dimension.value,
        title=DIMENSION_TITLES[dimension],
        by_group=by_group,
        gap=gap,
        flag=_gap_flag(gap, gap_threshold=gap_threshold),
        importance=columns.question_figures(lambda r: r.importance.get(dimension)),
        items=items,
    )


def _ranked(dimensions: Sequence[DimensionFigures]) -> tuple[tuple[RankedItem, ...], tuple[RankedItem, ...]]:
    """The highest and lowest behaviours by the 'all others' mean (at most half the rated ones each)."""
    ranked = [
        RankedItem(
            item_id=item.item_id,
            text=item.text,
            dimension=d.dimension,
            title=d.title,
            mean=others.mean,
            count=others.count,
        )
        for d in dimensions
        for item in d.items
        for others in [item.by_group.get(ALL_OTHERS)]
        if others is not None and others.mean is not None
    ]
    top = min(TOP_BEHAVIOURS, len(ranked) // 2)
    highest = sorted(ranked, key=lambda i: (-i.mean, i.item_id))[:top]
    lowest = sorted(ranked, key=lambda i: (i.mean, i.item_id))[:top]
    return tuple(highest), tuple(lowest)


def _comment_groups(
    responses: Sequence[Response], *, wording: Wording, shuffle_seed: UUID | None
) -> tuple[CommentGroup, ...]:
    """Comments grouped by question; shuffled with a seed from the cycle, or sorted (own comments)."""
    ids = sorted({c.question_id for r in responses for c in r.comments}, key=question_order)
    return tuple(
        CommentGroup(
            question_id=q,
            title=wording.question(q),
            texts=tuple(_shuffled(texts, seed=f"{shuffle_seed}:{q}") if shuffle_seed else sorted(texts)),
        )
        for q in ids
        for texts in [[c.text for r in responses for c in r.comments if c.question_id == q]]
    )


def _gap_summary(d: DimensionFigures) -> GapSummary:
    return GapSummary(
        dimension=d.dimension,
        title=d.title,
        gap=d.gap,
        self_mean=d.by_group[RaterGroup.SELF].mean,
        others=d.by_group[ALL_OTHERS].mean,
    )


def _report_columns(columns: _Columns) -> tuple[Column, ...]:
    shown = [
        Column(key=g.key, label=g.label, count=g.count, members=tuple(m.value for m in g.members))
        for g in columns.disclosure.shown
    ]
    if columns.others_keys:
        others_count = sum(g.count for g in columns.disclosure.shown if g.key != RaterGroup.SELF)
        label = GROUP_LABELS[ALL_OTHERS]
        shown.append(Column(key=ALL_OTHERS, label=label, count=others_count, members=tuple(columns.others_keys)))
    return tuple(shown)


def _withheld_count(dimensions: Sequence[DimensionFigures]) -> int:
    return sum(
        1
        for d in dimensions
        for by_group in [*(i.by_group for i in d.items), d.importance]
        for f in by_group.values()
        if f.withheld
    )


def compile_figures(
    responses: Sequence[Response],
    *,
    cycle_id: UUID,
    threshold: int,
    gap_threshold: float,
    wording: Wording | None = None,
) -> ReportFigures:
    """The anonymised aggregates of a cycle: the only data the report is rendered from."""
    wording = wording or Wording()
    columns = _columns_of(responses, threshold=threshold)
    disclosure = columns.disclosure
    visible = [r for r in responses if r.group in disclosure.shown_members]
    item_dimension: dict[str, Dimension] = {}
    for response in visible:
        for answer in response.answers:
            item_dimension.setdefault(answer.item_id, answer.dimension)
    dimensions = tuple(
        _dimension(
            dimension,
            (i for i, d in item_dimension.items() if d is dimension),
            columns,
            wording=wording,
            gap_threshold=gap_threshold,
        )
        for dimension in Dimension
    )
    highest, lowest = _ranked(dimensions)
    commenting = [r for r in visible if r.group is not RaterGroup.SELF]
    return ReportFigures(
        threshold=threshold,
        gap_threshold=gap_threshold,
        columns=_report_columns(columns),
        pooled=tuple(g.value for g in disclosure.pooled),
        suppressed=tuple(g.value for g in disclosure.suppressed),
        without_responses=tuple(g.value for g in disclosure.without_responses),
        dimensions=dimensions,
        highest=highest,
        lowest=lowest,
        blind_spots=tuple(_gap_summary(d) for d in dimensions if d.flag == "blind_spot"),
        hidden_strengths=tuple(_gap_summary(d) for d in dimensions if d.flag == "hidden_strength"),
        withheld_items=_withheld_count(dimensions),
        comments=_comment_groups(commenting, wording=wording, shuffle_seed=cycle_id),
        own_comments=_comment_groups(columns.by_column.get(RaterGroup.SELF, []), wording=wording, shuffle_seed=None),
        comparison=None,
    )


def _mean(entry: DimensionFigures | None, key: str) -> float | None:
    if entry is None:
        return None
    figure = entry.by_group.get(key)
    return figure.mean if figure else None


def compare(current: ReportFigures, earlier: ReportFigures, *, earlier_closed: str) -> Comparison:
    """Progress since an earlier 360 of the same person: both reports' published dimension figures only."""
    earlier_dims = {d.dimension: d for d in earlier.dimensions}
    rows = []
    for d in current.dimensions:
        before = earlier_dims.get(d.dimension)
        now_others, then_others = _mean(d, ALL_OTHERS), _mean(before, ALL_OTHERS)
        rows.append(
            ComparisonRow(
                dimension=d.dimension,
                title=d.title,
                self_then=_mean(before, RaterGroup.SELF),
                self_now=_mean(d, RaterGroup.SELF),
                others_then=then_others,
                others_now=now_others,
                change=round(now_others - then_others, 2)
                if now_others is not None and then_others is not None
                else None,
            )
        )
    return Comparison(earlier_closed=earlier_closed, dimensions=tuple(rows))
