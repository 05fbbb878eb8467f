"""Reading a rater's form against the item bank: every answer checked, each problem tied to the
field it belongs to, so the page can re-display the answers with an error summary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.contracts.text import FREE_TEXT_MAX, multi_line_problem, normalise_newlines
from shared.contracts.vocabulary import Dimension
from shared.questionnaire import DimensionSection, ItemBank, Wording

NOT_OBSERVED = "na"
MAX_COMMENT_CHARS = FREE_TEXT_MAX  # what RatingSubmitted and RaterDeclined carry
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
    return normalise_newlines(value).strip()


def comment_problem(text: str, *, subject: str) -> str | None:
    """Why free text typed into the form cannot be kept (too long, or control characters), or None."""
    if len(text) > MAX_COMMENT_CHARS:
        return f"{subject} must be {MAX_COMMENT_CHARS:,} characters or fewer (it has {len(text):,})"
    if problem := multi_line_problem(text):
        return f"{subject} {problem}"
    return None


class _Reader:
    """Reads one part of the questionnaire from form values, collecting answers and errors in page order."""

    def __init__(self, bank: ItemBank, form: Mapping[str, str], *, self_rating: bool) -> None:
        self.bank = bank
        self.form = form
        self.self_rating = self_rating
        self.errors: list[FieldError] = []
        self.answers: list[ItemScore] = []
        self.importance: list[tuple[Dimension, int]] = []
        self.comments: list[tuple[str, str]] = []

    def comment(self, question_id: str, wording: Wording, *, required: bool) -> None:
        name = comment_field(question_id)
        text = normalise_text(self.form.get(name, ""))
        question = wording.for_rater(self_rating=self.self_rating)
        if problem := comment_problem(text, subject=f"Your answer to '{question}'"):
            self.errors.append(FieldError(name, element_id(name), problem))
        elif text:
            self.comments.append((question_id, text))
        elif required:
            self.errors.append(FieldError(name, element_id(name), f"Answer the question: {question}"))

    def section(self, section: DimensionSection) -> None:
        whose = "your" if self.self_rating else "their"
        for item in section.items:
            name = item_field(item.id)
            value = self.form.get(name, "").strip()
            statement = item.for_rater(self_rating=self.self_rating)
            if value == NOT_OBSERVED:
                self.answers.append(ItemScore(item_id=item.id, dimension=section.dimension, score=None))
            elif value in SCORES:
                self.answers.append(ItemScore(item_id=item.id, dimension=section.dimension, score=int(value)))
            else:
                message = (
                    f"Choose one of the answers given for: {statement}"
                    if value
                    else f"Select how often, or '{self.bank.not_observed_label}', for: {statement}"
                )
                self.errors.append(FieldError(name, first_option_id(name), message))

        name = importance_field(section.dimension)
        value = self.form.get(name, "").strip()
        if value in SCORES:
            self.importance.append((section.dimension, int(value)))
        else:
            verb = "Choose one of the answers given for" if value else "Select"
            question = f"how important {section.title.lower()} is to {whose} role"
            self.errors.append(FieldError(name, first_option_id(name), f"{verb} {question}"))

        if section.comment is not None:
            self.comment(section.comment_id, section.comment, required=False)

    def overall(self) -> None:
        for question in self.bank.comments:
            self.comment(question.id, question, required=question.required)


def parse_form(bank: ItemBank, form: Mapping[str, str], *, self_rating: bool) -> FormResult:
    """Check a whole questionnaire; a Submission only when every required answer is valid.

    Errors come in the order the questions are asked, as the error summary lists them."""
    reader = _Reader(bank, form, self_rating=self_rating)
    for section in bank.dimensions:
        reader.section(section)
    reader.overall()
    if reader.errors:
        return FormResult(submission=None, errors=tuple(reader.errors))
    submission = Submission(
        answers=tuple(reader.answers), importance=tuple(reader.importance), comments=tuple(reader.comments)
    )
    return FormResult(submission=submission, errors=())


# --- one page at a time: the nine dimension pages, then the overall comments page -------------

COMMENTS_PAGE = "comments"


def section_fields(section: DimensionSection) -> list[str]:
    names = [item_field(item.id) for item in section.items] + [importance_field(section.dimension)]
    if section.comment is not None:
        names.append(comment_field(section.comment_id))
    return names


def overall_fields(bank: ItemBank) -> list[str]:
    return [comment_field(question.id) for question in bank.comments]


def page_fields(bank: ItemBank, page: int | str) -> list[str]:
    """Form fields asked on a page: 1..n a dimension, or the overall comments page."""
    return overall_fields(bank) if page == COMMENTS_PAGE else section_fields(bank.dimensions[int(page) - 1])


def page_errors(
    bank: ItemBank, page: int | str, form: Mapping[str, str], *, self_rating: bool
) -> tuple[FieldError, ...]:
    """Errors on one page of the questionnaire (empty when it is complete and valid)."""
    reader = _Reader(bank, form, self_rating=self_rating)
    if page == COMMENTS_PAGE:
        reader.overall()
    else:
        reader.section(bank.dimensions[int(page) - 1])
    return tuple(reader.errors)


def merge_page(bank: ItemBank, page: int | str, draft: Mapping[str, str], posted: Mapping[str, str]) -> dict[str, str]:
    """The draft with this page's fields replaced by what was posted (a field left empty is cleared).

    Text is kept as typed (line endings normalised), even when too long, so nothing typed is lost."""
    merged = {name: value for name, value in draft.items() if name not in page_fields(bank, page)}
    for name in page_fields(bank, page):
        value = posted.get(name, "")
        value = normalise_text(value) if name.startswith("comment:") else value.strip()
        if value:
            merged[name] = value[: MAX_COMMENT_CHARS * 2]
    return merged


def unstorable(bank: ItemBank, page: int | str, posted: Mapping[str, str]) -> bool:
    """True when a field of the page holds a NUL character, which PostgreSQL cannot store (only a
    broken or hostile client sends one): the page is shown again, unsaved, with its errors."""
    return any("\x00" in posted.get(name, "") for name in page_fields(bank, page))


def pages_of(bank: ItemBank) -> list[int | str]:
    return [*range(1, len(bank.dimensions) + 1), COMMENTS_PAGE]


def first_incomplete_page(bank: ItemBank, answers: Mapping[str, str], *, self_rating: bool) -> int | str | None:
    """Where to resume: the first page with an unanswered or invalid question, None when all are done."""
    for page in pages_of(bank):
        if page_errors(bank, page, answers, self_rating=self_rating):
            return page
    return None


def next_page(bank: ItemBank, page: int | str) -> int | str | None:
    """The page after `page`; None after the comments page (then: check your answers)."""
    order = pages_of(bank)
    index = order.index(page)
    return order[index + 1] if index + 1 < len(order) else None


def previous_page(bank: ItemBank, page: int | str) -> int | str | None:
    order = pages_of(bank)
    index = order.index(page)
    return order[index - 1] if index > 0 else None


def parse_page(bank: ItemBank, raw: str) -> int | str | None:
    """A page name from a URL: '1'..'9' or 'comments'; None when it is not one."""
    if raw == COMMENTS_PAGE:
        return COMMENTS_PAGE
    # isdigit() alone accepts '²' and other digits int() refuses
    if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= len(bank.dimensions):
        return int(raw)
    return None
