"""Server-rendered pages of the rater's journey and the self-assessment (NHS.UK design system,
jinja2 autoescaped). The same page templates serve both: `Journey` says whose questionnaire it is
and where its pages live."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ratings.questionnaire import (
    COMMENTS_PAGE,
    MAX_COMMENT_CHARS,
    NOT_OBSERVED,
    FieldError,
    comment_field,
    element_id,
    importance_field,
    item_field,
    pages_of,
    previous_page,
)
from shared.contracts.vocabulary import RaterGroup
from shared.questionnaire import ItemBank
from shared.web import page_templates

_templates = page_templates("ratings")

SERVICE_NAME = "HLM 360 feedback"
MINUTES = "20 to 30 minutes"

ROLE_PHRASES = {
    RaterGroup.SELF: "yourself",
    RaterGroup.LINE_MANAGER: "as their line manager",
    RaterGroup.PEER: "as a peer",
    RaterGroup.DIRECT_REPORT: "as someone who reports to them",
    RaterGroup.OTHER: "as someone who works with them",
}

CONFIDENTIALITY = {
    RaterGroup.SELF: "Your self-rating appears in your report next to the views of the people you invited.",
    RaterGroup.LINE_MANAGER: (
        "Your ratings are shown in the report as the line manager's view, so they can be recognised as yours. "
        "Your comments are not attributed to you."
    ),
    RaterGroup.PEER: (
        "Your answers are combined with other peers' answers and are never shown on their own or with your name. "
        "If too few peers answer, their group's ratings are left out of the report."
    ),
    RaterGroup.DIRECT_REPORT: (
        "Your answers are combined with those of other people who report to them and are never shown on their own "
        "or with your name. If too few of you answer, the group's ratings are left out of the report."
    ),
    RaterGroup.OTHER: (
        "Your answers are combined with others' and are never shown on their own or with your name. "
        "If too few people in your group answer, the group's ratings are left out of the report."
    ),
}

# The shared middleware adds CSP, no-referrer and no-store; the token is in the URL, so also never index.
SECURITY_HEADERS = {"X-Robots-Tag": "noindex, nofollow"}


@dataclass(frozen=True)
class Journey:
    """Whose questionnaire this is and where its pages live (`/r/<token>` or `/self-assessment/<token>`)."""

    base: str
    group: RaterGroup
    participant_name: str | None = None
    self_assessment: bool = False

    @property
    def self_rating(self) -> bool:
        return self.group is RaterGroup.SELF

    @property
    def subject(self) -> str:
        return self.participant_name or "the person who invited you"

    @property
    def start_href(self) -> str:
        return "/self-assessment" if self.self_assessment else self.base

    def page_href(self, page: int | str | None) -> str:
        return self.start_href if page is None else f"{self.base}/{page}"


@dataclass(frozen=True)
class Message:
    title: str
    paragraphs: tuple[str, ...]


UNKNOWN_LINK = Message(
    "Link not recognised",
    (
        "We do not recognise this feedback link.",
        "Check that you used the whole link from your invitation email. If it still does not work, "
        "contact the person who invited you.",
    ),
)
TOO_MANY_ATTEMPTS = Message(
    "Too many unrecognised links",
    (
        "We have seen too many links we do not recognise from your network, so we have stopped checking them "
        "for a short while.",
        "Wait a minute, then open the link from your invitation email again.",
    ),
)
WITHDRAWN = Message(
    "This feedback link is no longer active",
    (
        "The person who asked for feedback no longer needs an answer from this link, so it has been switched off.",
        "You do not need to do anything. If you think this is a mistake, contact the person who invited you.",
    ),
)
CLOSED = Message(
    "This questionnaire has closed",
    (
        "The time for giving feedback for this 360 has ended, so no more answers can be accepted.",
        "Any answers you had saved but not sent have been deleted.",
    ),
)
CLOSED_AFTER_SUBMITTING = Message(
    "This questionnaire has closed",
    (
        "The time for giving feedback for this 360 has ended.",
        "We received your feedback before it closed. Thank you.",
    ),
)
ALREADY_SUBMITTED = Message(
    "You have already given feedback, thank you",
    (
        "We have received your answers. Each person can give feedback once.",
        "To protect confidentiality, answers cannot be viewed or changed after they are sent.",
    ),
)
DECLINED = Message(
    "You have declined to give feedback",
    (
        "We have let the person who invited you know. You will not be reminded again about this request.",
        "You can now close this page.",
    ),
)
NOT_READY = Message(
    "This questionnaire is not ready yet",
    ("Your invitation is being set up. Please try your link again in a few minutes.",),
)
DONE = Message(
    "Thank you, your feedback has been sent",
    (
        "Your answers have been received and will be included in the 360 report once the feedback period closes.",
        "To protect confidentiality, your answers cannot be viewed or changed through this link any more.",
        "You can now close this page.",
    ),
)
SELF_ASSESSMENT_UNKNOWN = Message(
    "Self-assessment link not recognised",
    (
        "We do not recognise this self-assessment link. It may have been used already: once you finish a "
        "self-assessment its answers are sent to your private report and deleted here.",
        "Unfinished self-assessments are deleted after 30 days without a change.",
    ),
)


def _render(template: str, **context: object) -> str:
    return _templates.get_template(template).render(service_name=SERVICE_NAME, **context)


def message_page(message: Message, *, start_again: str | None = None) -> str:
    return _render(
        "message.html",
        page_title=message.title,
        errors=(),
        paragraphs=message.paragraphs,
        start_again=start_again,
        home_href="#maincontent",
    )


def start_page(bank: ItemBank, journey: Journey, *, resume_page: int | str | None, has_answers: bool) -> str:
    """Who is being rated, in which role, how long it takes, and the confidentiality promise."""
    return _render(
        "start.html",
        page_title="Rate yourself" if journey.self_rating else f"Give feedback on {journey.subject}",
        errors=(),
        journey=journey,
        bank=bank,
        role_phrase=ROLE_PHRASES[journey.group],
        confidentiality=CONFIDENTIALITY[journey.group],
        minutes=MINUTES,
        resume_href=journey.page_href(resume_page) if has_answers and resume_page else None,
        check_href=f"{journey.base}/check" if has_answers and resume_page is None else None,
        first_href=journey.page_href(1),
        home_href=journey.base,
    )


def _back_href(bank: ItemBank, journey: Journey, page: int | str, *, returning: bool) -> str:
    if returning:
        return f"{journey.base}/check"
    return journey.page_href(previous_page(bank, page))


def section_page(
    bank: ItemBank,
    journey: Journey,
    *,
    page: int,
    values: Mapping[str, str],
    errors: Sequence[FieldError],
    returning: bool,
) -> str:
    """One HLM dimension: its behaviour statements, its importance to the role, an optional comment."""
    section = bank.dimensions[page - 1]
    frequency = [(point.value, point.label) for point in bank.frequency_scale] + [
        (NOT_OBSERVED, bank.not_observed_label)
    ]
    importance = [(point.value, point.label) for point in bank.importance_scale]
    whose = "your" if journey.self_rating else "their"
    return _render(
        "section.html",
        page_title=section.title,
        errors=errors,
        error_for={error.field: error.message for error in errors},
        journey=journey,
        section=section,
        page=page,
        pages=len(bank.dimensions),
        values=values,
        frequency=frequency,
        importance=importance,
        importance_legend=f"How important is {section.title.lower()} to {whose} role?",
        item_field=item_field,
        importance_field=importance_field,
        comment_field=comment_field,
        element_id=element_id,
        max_comment_chars=MAX_COMMENT_CHARS,
        back_href=_back_href(bank, journey, page, returning=returning),
        returning=returning,
        home_href=journey.base,
    )


def comments_page(
    bank: ItemBank, journey: Journey, *, values: Mapping[str, str], errors: Sequence[FieldError], returning: bool
) -> str:
    return _render(
        "comments.html",
        page_title="Your overall comments" if journey.self_rating else "Overall comments",
        errors=errors,
        error_for={error.field: error.message for error in errors},
        journey=journey,
        bank=bank,
        values=values,
        comment_field=comment_field,
        element_id=element_id,
        max_comment_chars=MAX_COMMENT_CHARS,
        back_href=_back_href(bank, journey, COMMENTS_PAGE, returning=returning),
        returning=returning,
        home_href=journey.base,
    )


@dataclass(frozen=True)
class AnswerRow:
    question: str
    answer: str


@dataclass(frozen=True)
class AnswerGroup:
    title: str
    rows: tuple[AnswerRow, ...]
    change_href: str
    change_label: str


def answer_groups(bank: ItemBank, journey: Journey, values: Mapping[str, str]) -> list[AnswerGroup]:
    """Every question with the rater's saved answer, page by page, for the check-your-answers page."""
    labels = {str(point.value): point.label for point in bank.frequency_scale} | {NOT_OBSERVED: bank.not_observed_label}
    importance_labels = {str(point.value): point.label for point in bank.importance_scale}
    missing = "Not answered"
    whose = "your" if journey.self_rating else "their"
    groups = []
    for number, section in enumerate(bank.dimensions, start=1):
        rows = [
            AnswerRow(
                item.for_rater(self_rating=journey.self_rating),
                labels.get(values.get(item_field(item.id), ""), missing),
            )
            for item in section.items
        ]
        rows.append(
            AnswerRow(
                f"How important is {section.title.lower()} to {whose} role?",
                importance_labels.get(values.get(importance_field(section.dimension), ""), missing),
            )
        )
        if section.comment is not None:
            comment = values.get(comment_field(section.comment_id), "")
            rows.append(AnswerRow(section.comment.for_rater(self_rating=journey.self_rating), comment or "None"))
        groups.append(
            AnswerGroup(
                f"{number}. {section.title}",
                tuple(rows),
                f"{journey.page_href(number)}?return=check",
                f"answers for {section.title}",
            )
        )
    overall = tuple(
        AnswerRow(
            question.for_rater(self_rating=journey.self_rating), values.get(comment_field(question.id), "") or missing
        )
        for question in bank.comments
    )
    groups.append(
        AnswerGroup("Overall comments", overall, f"{journey.page_href(COMMENTS_PAGE)}?return=check", "overall comments")
    )
    return groups


def check_page(bank: ItemBank, journey: Journey, *, values: Mapping[str, str], errors: Sequence[FieldError]) -> str:
    """Check your answers, with a change link per page; sending is final."""
    page_of = {}
    for number, section in enumerate(bank.dimensions, start=1):
        for name in [item_field(item.id) for item in section.items] + [importance_field(section.dimension)]:
            page_of[name] = str(number)
        page_of[comment_field(section.comment_id)] = str(number)
    for question in bank.comments:
        page_of[comment_field(question.id)] = COMMENTS_PAGE
    # Errors here point at the page (and field) where the answer is given.
    links = [
        (f"{journey.page_href(page_of.get(error.field, 1))}?return=check#{error.anchor}", error.message)
        for error in errors
    ]
    return _render(
        "check.html",
        page_title="Check your answers before sending them" if not journey.self_assessment else "Check your answers",
        errors=errors,
        error_links=links,
        journey=journey,
        groups=answer_groups(bank, journey, values),
        back_href=journey.page_href(COMMENTS_PAGE),
        home_href=journey.base,
        pages=len(pages_of(bank)),
    )


def decline_page(journey: Journey, *, reason: str, error: str | None) -> str:
    return _render(
        "decline.html",
        page_title=f"Decline to give feedback on {journey.subject}",
        errors=[("decline-reason", error)] if error else [],
        error=error,
        journey=journey,
        reason=reason,
        max_comment_chars=MAX_COMMENT_CHARS,
        home_href=journey.base,
    )


def self_assessment_start_page(bank: ItemBank) -> str:
    return _render(
        "self_start.html",
        page_title="Healthcare Leadership Model self-assessment",
        errors=(),
        bank=bank,
        minutes=MINUTES,
        home_href="/self-assessment",
    )


PAGE_NOT_FOUND = Message("Page not found", ("Check the address, or go back to the previous page.",))
TOO_LARGE = Message(
    "Your answers were too long to save",
    ("Go back, shorten your comments to 5,000 characters or fewer each, and try again.",),
)
TOO_MANY_STARTS = Message(
    "Too many self-assessments started",
    ("Many self-assessments have been started from your network recently. Please try again in 10 minutes.",),
)
