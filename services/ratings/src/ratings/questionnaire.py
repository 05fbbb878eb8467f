"""Reading a rater's form against the item bank: every answer checked, each problem tied to the
field it belongs to, so the page can re-display the answers with an error summary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.contracts.vocabulary import Dimension
from shared.questionnaire import ItemBank, Wording

NOT_OBSERVED = "na"
MAX_COMMENT_CHARS = 5000
SCORES = ("1", "2", "3", "4", "5")


def item_field(item_id: str) -> str:
    return f"item:{item_id}"


def importance_field(dimension: Dimension) -> str:
    return f"importance:{dimension.value}"


def comment_field(question_id: str) -> str:
    return f"comment:{question_id}"


def element_id(field: str) -> str:
    """HTML id for a field name (ids with ':' need escaping in CSS selectors, so avoid them)."""
    return field.replace(":", "-").replace("_", "-")


def first_option_id(field: str) -> str:
    """The error summary links radio groups to their first option, as the GOV.UK pattern does."""
    return f"{element_id(field)}-1"


@dataclass(frozen=True)
class FieldError:
    field: str
    anchor: str
    message: str


@dataclass(frozen=True)
class ItemScore:
    item_id: str
    dimension: Dimension
    score: int | None  # None: "not observed"


@dataclass(frozen=True)
class Submission:
    answers: tuple[ItemScore, ...]
    importance: tuple[tuple[Dimension, int], ...]
    comments: tuple[tuple[str, str], ...]  # (question id, text); only non-empty ones


@dataclass(frozen=True)
class FormResult:
    submission: Submission | None
    errors: tuple[FieldError, ...]


def normalise_text(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def parse_form(bank: ItemBank, form: Mapping[str, str], *, self_rating: bool) -> FormResult:
    """Check a posted questionnaire; a Submission only when every required answer is valid.

    Errors come in the order the questions appear on the page, as the error summary lists them."""
    errors: list[FieldError] = []
    answers: list[ItemScore] = []
    importance: list[tuple[Dimension, int]] = []
    comments: list[tuple[str, str]] = []
    whose = "your" if self_rating else "their"

    def read_comment(question_id: str, wording: Wording, *, required: bool) -> None:
        name = comment_field(question_id)
        text = normalise_text(form.get(name, ""))
        question = wording.for_rater(self_rating=self_rating)
        if len(text) > MAX_COMMENT_CHARS:
            errors.append(
                FieldError(
                    name,
                    element_id(name),
                    f"Your answer to '{question}' must be {MAX_COMMENT_CHARS:,} characters or fewer "
                    f"(it has {len(text):,})",
                )
            )
        elif text:
            comments.append((question_id, text))
        elif required:
            errors.append(FieldError(name, element_id(name), f"Answer the question: {question}"))

    for section in bank.dimensions:
        for item in section.items:
            name = item_field(item.id)
            value = form.get(name, "").strip()
            statement = item.for_rater(self_rating=self_rating)
            if value == NOT_OBSERVED:
                answers.append(ItemScore(item_id=item.id, dimension=section.dimension, score=None))
            elif value in SCORES:
                answers.append(ItemScore(item_id=item.id, dimension=section.dimension, score=int(value)))
            else:
                message = (
                    f"Choose one of the answers given for: {statement}"
                    if value
                    else f"Select how often, or '{bank.not_observed_label}', for: {statement}"
                )
                errors.append(FieldError(name, first_option_id(name), message))

        name = importance_field(section.dimension)
        value = form.get(name, "").strip()
        if value in SCORES:
            importance.append((section.dimension, int(value)))
        else:
            verb = "Choose one of the answers given for" if value else "Select"
            question = f"how important {section.title.lower()} is to {whose} role"
            errors.append(FieldError(name, first_option_id(name), f"{verb} {question}"))

        if section.comment is not None:
            read_comment(section.comment_id, section.comment, required=False)

    for overall in bank.comments:
        read_comment(overall.id, overall, required=overall.required)

    if errors:
        return FormResult(submission=None, errors=tuple(errors))
    return FormResult(
        submission=Submission(answers=tuple(answers), importance=tuple(importance), comments=tuple(comments)),
        errors=(),
    )
