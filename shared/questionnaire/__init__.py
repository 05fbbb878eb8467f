"""The questionnaire as data, shared by ratings (asks the questions) and reports (names the
behaviours): a versioned item bank (JSON) validated by pydantic at startup, so an
organisation can load another bank (e.g. a licensed official one) without a code change."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from shared.contracts.vocabulary import DIMENSION_TITLES, Dimension

BANKS_DIR = Path(__file__).resolve().parent / "banks"
REQUIRED_COMMENTS = ("overall_strengths", "overall_development")
SCALE_VALUES = [1, 2, 3, 4, 5]

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
ItemId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")]
QuestionId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,79}$")]


class ItemBankError(Exception):
    """The item bank file cannot be used; the message says which file and why."""


class Level(StrEnum):
    """The four levels of the Healthcare Leadership Model's scale, lowest first."""

    ESSENTIAL = "essential"
    PROFICIENT = "proficient"
    STRONG = "strong"
    EXEMPLARY = "exemplary"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Wording(_Strict):
    """The same question in the first person (for the self rater) and the third person (others)."""

    first_person: Text
    third_person: Text

    def for_rater(self, *, self_rating: bool) -> str:
        return self.first_person if self_rating else self.third_person


class Item(Wording):
    id: ItemId
    level: Level


class ScalePoint(_Strict):
    value: int
    label: Text


class DimensionSection(_Strict):
    dimension: Dimension
    title: Text
    description: Text
    items: list[Item] = Field(min_length=1)
    comment: Wording | None = None

    @property
    def comment_id(self) -> str:
        return f"{self.dimension.value}_comment"

    @model_validator(mode="after")
    def _check(self) -> Self:
        expected = DIMENSION_TITLES[self.dimension]
        if self.title != expected:
            raise ValueError(f"title of {self.dimension.value} must be {expected!r}, got {self.title!r}")
        missing = [level.value for level in Level if level not in {item.level for item in self.items}]
        if missing:
            raise ValueError(f"{self.dimension.value} has no item for level(s): {', '.join(missing)}")
        return self


class CommentQuestion(Wording):
    id: QuestionId
    required: bool


class ItemBank(_Strict):
    version: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.-]{0,199}$")]
    title: Text
    notice: Text | None = None
    frequency_scale: list[ScalePoint]
    not_observed_label: Text
    importance_scale: list[ScalePoint]
    dimensions: list[DimensionSection]
    comments: list[CommentQuestion]

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems: list[str] = []
        for name in ("frequency_scale", "importance_scale"):
            values = [point.value for point in getattr(self, name)]
            if values != SCALE_VALUES:
                problems.append(f"{name} must have the values 1, 2, 3, 4, 5 in order (got {values})")
        seen = [section.dimension for section in self.dimensions]
        missing = [d.value for d in Dimension if d not in seen]
        repeated = sorted({d.value for d in seen if seen.count(d) > 1})
        if missing:
            problems.append(f"dimension(s) missing: {', '.join(missing)}")
        if repeated:
            problems.append(f"dimension(s) given more than once: {', '.join(repeated)}")
        item_ids = [item.id for section in self.dimensions for item in section.items]
        duplicates = sorted({i for i in item_ids if item_ids.count(i) > 1})
        if duplicates:
            problems.append(f"item id(s) used more than once: {', '.join(duplicates)}")
        comment_ids = [c.id for c in self.comments]
        duplicates = sorted({i for i in comment_ids if comment_ids.count(i) > 1})
        if duplicates:
            problems.append(f"comment id(s) used more than once: {', '.join(duplicates)}")
        clashing = sorted({c for c in comment_ids if c in {s.comment_id for s in self.dimensions}})
        if clashing:
            problems.append(f"comment id(s) clash with per-dimension comment ids: {', '.join(clashing)}")
        for required in REQUIRED_COMMENTS:
            question = next((c for c in self.comments if c.id == required), None)
            if question is None or not question.required:
                problems.append(f"comment {required!r} must be present and required")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def items(self) -> list[tuple[DimensionSection, Item]]:
        return [(section, item) for section in self.dimensions for item in section.items]


def parse_item_bank(raw: str, *, source: str) -> ItemBank:
    """Validate an item bank; refuse it with a message naming the source and each problem."""
    try:
        return ItemBank.model_validate_json(raw)
    except ValidationError as error:
        problems = []
        for item in error.errors(include_url=False, include_input=False):
            location = ".".join(str(part) for part in item["loc"]) or "(bank)"
            message = item["msg"].removeprefix("Value error, ")
            problems.append(f"{location}: {message}")
        raise ItemBankError(f"item bank {source} refused: " + "; ".join(problems)) from None


def load_item_bank(path: Path) -> ItemBank:
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ItemBankError(f"item bank {path} cannot be read: {error.strerror or error}") from None
    try:
        json.loads(raw)
    except json.JSONDecodeError as error:
        raise ItemBankError(
            f"item bank {path} refused: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    return parse_item_bank(raw, source=str(path))
