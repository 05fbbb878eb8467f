"""Cohort reports: many participants' published figures summed (never raw answers)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reports.domain.anonymity import ALL_OTHERS, GROUP_LABELS, WITHHELD, check_threshold, combine
from reports.domain.figures import CohortColumn, CohortDimension, CohortFigure, CohortFigures, Figure, ReportFigures
from shared.contracts.vocabulary import DIMENSION_TITLES, Dimension, RaterGroup

COHORT_COLUMNS = (RaterGroup.SELF.value, RaterGroup.LINE_MANAGER.value, ALL_OTHERS)


def _cohort_figure(parts: Sequence[Figure], *, threshold: int) -> CohortFigure:
    figure = combine(parts) if len(parts) >= threshold else WITHHELD
    return CohortFigure(**figure.model_dump(), participants=len(parts))


def _cohort_dimension(dimension: Dimension, reports: Sequence[ReportFigures], *, threshold: int) -> CohortDimension:
    mine = [d for figures in reports for d in figures.dimensions if d.dimension == dimension.value]
    by_group = {
        key: _cohort_figure(
            [d.by_group[key] for d in mine if key in d.by_group and d.by_group[key].count], threshold=threshold
        )
        for key in COHORT_COLUMNS
    }
    importance = {
        key: _cohort_figure(
            [d.importance[key] for d in mine if key in d.importance and d.importance[key].count], threshold=threshold
        )
        for key in COHORT_COLUMNS
    }
    self_mean, others_mean = by_group[RaterGroup.SELF].mean, by_group[ALL_OTHERS].mean
    return CohortDimension(
        dimension=dimension.value,
        title=DIMENSION_TITLES[dimension],
        by_group=by_group,
        importance=importance,
        gap=round(self_mean - others_mean, 2) if self_mean is not None and others_mean is not None else None,
    )


def cohort_figures(reports: Sequence[ReportFigures], *, threshold: int) -> CohortFigures:
    """Aggregate published report figures across participants (never raw answers).

    Each participant's figures are already safe for their raters; the cohort adds the rule that a
    column appears only when at least `threshold` participants contribute to it, so no single
    participant's (or their line manager's) result can be read off the cohort report.
    """
    check_threshold(threshold)
    if len(reports) < threshold:
        raise ValueError(f"a cohort report needs at least {threshold} participants (got {len(reports)})")
    return CohortFigures(
        threshold=threshold,
        participants=len(reports),
        columns=tuple(CohortColumn(key=k, label=GROUP_LABELS[k]) for k in COHORT_COLUMNS),
        dimensions=tuple(_cohort_dimension(d, reports, threshold=threshold) for d in Dimension),
    )


def cohort_snapshot_allowed(previous: Iterable[frozenset[str]], candidate: frozenset[str], *, threshold: int) -> bool:
    """A new cohort snapshot must differ from every earlier one by at least `threshold` participants,
    so that subtracting two snapshots never isolates fewer than `threshold` people."""
    return all(len(candidate ^ earlier) >= threshold or candidate == earlier for earlier in previous)
