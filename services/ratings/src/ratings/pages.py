"""Server-rendered pages for raters (jinja2, autoescaped). Who is being rated is not known here,
so pages speak of "the person who invited you", or "yourself" for the self rating."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ratings.questionnaire import (
    MAX_COMMENT_CHARS,
    NOT_OBSERVED,
    FieldError,
    comment_field,
    element_id,
    importance_field,
    item_field,
)
from shared.contracts.vocabulary import RaterGroup
from shared.questionnaire import ItemBank

_templates = Environment(
    loader=PackageLoader("ratings", "templates"),
    autoescape=select_autoescape(),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

ROLE_PHRASES = {
    RaterGroup.SELF: "yourself",
    RaterGroup.LINE_MANAGER: "as their line manager",
    RaterGroup.PEER: "as a peer",
    RaterGroup.DIRECT_REPORT: "as someone who reports to them",
    RaterGroup.OTHER: "as a colleague who works with them",
}

CONFIDENTIALITY = {
    RaterGroup.SELF: "Your self-rating appears in your report next to the views of the people you invited.",
    RaterGroup.LINE_MANAGER: (
        "Your ratings are shown in the report as the line manager's view. Your comments are not attributed to you."
    ),
    RaterGroup.PEER: "Your answers are combined with others' and are never shown on their own or with your name.",
    RaterGroup.DIRECT_REPORT: (
        "Your answers are combined with others' and are never shown on their own or with your name."
    ),
    RaterGroup.OTHER: "Your answers are combined with others' and are never shown on their own or with your name.",
}

SECURITY_HEADERS = {
    # The link token is in the URL: never send it on as a Referer, never cache or index the page.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


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
CLOSED = Message(
    "This questionnaire has closed",
    ("The time for giving feedback for this 360 has ended, so no more answers can be accepted.",),
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
NOT_READY = Message(
    "This questionnaire is not ready yet",
    ("Your invitation is being set up. Please try your link again in a few minutes.",),
)
DONE = Message(
    "Thank you, your feedback has been sent",
    (
        "Your answers have been received and will be included in the 360 report once the feedback period closes.",
        "You can now close this page.",
    ),
)


def message_page(message: Message) -> str:
    return _templates.get_template("message.html").render(title=message.title, paragraphs=message.paragraphs)


def questionnaire_page(
    bank: ItemBank,
    *,
    group: RaterGroup,
    values: Mapping[str, str],
    errors: Sequence[FieldError],
) -> str:
    """The whole questionnaire on one page; `values` re-fills it after a failed submission."""
    self_rating = group is RaterGroup.SELF
    return _templates.get_template("questionnaire.html").render(
        bank=bank,
        self_rating=self_rating,
        role_phrase=ROLE_PHRASES[group],
        confidentiality=CONFIDENTIALITY[group],
        values=values,
        errors=errors,
        error_for={error.field: error.message for error in errors},
        item_field=item_field,
        importance_field=importance_field,
        comment_field=comment_field,
        element_id=element_id,
        not_observed=NOT_OBSERVED,
        max_comment_chars=MAX_COMMENT_CHARS,
    )
