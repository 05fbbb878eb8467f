"""The typed figures a report is rendered from: frozen pydantic models, one per part of the report.

They cross from the domain to rendering and storage as these types; `as_json()` gives the JSON
document the templates read and the `figures` column stores (the same shape as before the types).
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field


class Typed(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    def as_json(self) -> dict[str, Any]:
        """The JSON document of these figures (what the templates read and the database stores)."""
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def from_json(cls, data: Any) -> Self:
        return cls.model_validate(data)


class Figure(Typed):
    """One published figure: mean and count over observed answers, the distribution 1..5, or withheld."""

    mean: float | None
    count: int | None
    not_observed: int | None
    distribution: tuple[int, ...] | None
    withheld: bool


class Column(Typed):
    key: str
    label: str
    count: int
    members: tuple[str, ...]


class ItemFigures(Typed):
    item_id: str
    text: str
    level: str
    by_group: dict[str, Figure]


class RankedItem(Typed):
    item_id: str
    text: str
    dimension: str
    title: str
    mean: float
    count: int | None


class DimensionFigures(Typed):
    dimension: str
    title: str
    by_group: dict[str, Figure]
    gap: float | None
    flag: str | None
    importance: dict[str, Figure]
    items: tuple[ItemFigures, ...]


class GapSummary(Typed):
    dimension: str
    title: str
    gap: float | None
    self_mean: float | None = Field(alias="self")
    others: float | None


class CommentGroup(Typed):
    question_id: str
    title: str
    texts: tuple[str, ...]


class ComparisonRow(Typed):
    dimension: str
    title: str
    self_then: float | None
    self_now: float | None
    others_then: float | None
    others_now: float | None
    change: float | None


class Comparison(Typed):
    earlier_closed: str
    dimensions: tuple[ComparisonRow, ...]


class ReportFigures(Typed):
    """The anonymised aggregates of a cycle: the only data the 360 report is rendered from."""

    threshold: int
    gap_threshold: float
    columns: tuple[Column, ...]
    pooled: tuple[str, ...]
    suppressed: tuple[str, ...]
    without_responses: tuple[str, ...]
    dimensions: tuple[DimensionFigures, ...]
    highest: tuple[RankedItem, ...]
    lowest: tuple[RankedItem, ...]
    blind_spots: tuple[GapSummary, ...]
    hidden_strengths: tuple[GapSummary, ...]
    withheld_items: int
    comments: tuple[CommentGroup, ...]
    own_comments: tuple[CommentGroup, ...]
    comparison: Comparison | None


class CohortFigure(Figure):
    participants: int


class CohortColumn(Typed):
    key: str
    label: str


class CohortDimension(Typed):
    dimension: str
    title: str
    by_group: dict[str, CohortFigure]
    importance: dict[str, CohortFigure]
    gap: float | None


class CohortFigures(Typed):
    """A programme's cohort: many reports' published figures summed, per dimension and column."""

    threshold: int
    participants: int
    columns: tuple[CohortColumn, ...]
    dimensions: tuple[CohortDimension, ...]


class OwnItem(Typed):
    item_id: str
    text: str
    level: str
    score: int | None


class OwnDimension(Typed):
    dimension: str
    title: str
    figure: Figure
    importance: int | None
    items: tuple[OwnItem, ...]


class SelfAssessmentFigures(Typed):
    """One person's own answers, for their eyes only."""

    dimensions: tuple[OwnDimension, ...]
    strongest: tuple[str, ...]
    to_develop: tuple[str, ...]
    comments: tuple[CommentGroup, ...]
