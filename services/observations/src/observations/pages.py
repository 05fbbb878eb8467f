"""Server-rendered pages of the journal (NHS.UK design system, jinja2 autoescaped): signing in,
the list of observations with its filter, the observation form, one observation, deleting one.
Dimension and level wording comes from the item bank, so it matches the 360."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING
from uuid import UUID

from observations.domain import (
    LEVEL_TITLES,
    MAX_CONTEXT,
    MAX_IMPACT,
    MAX_NAME,
    MAX_PROGRAMME,
    MAX_WHAT_HAPPENED,
    WHOSE_LABELS,
    Entry,
    FieldError,
    Filter,
    Status,
    Whose,
)
from observations.forms import dimension_field
from shared.questionnaire import ItemBank, Level
from shared.web import page_templates

if TYPE_CHECKING:
    from observations.usecases import AccountView, Journal, Summary

_templates = page_templates("observations")

SERVICE_NAME = "HLM Observations"
# Every page is under this prefix: the origin is shared with the other services (deploy/frontdoor/routes.py).
PREFIX = "/observations"
ENTRIES = f"{PREFIX}/entries"
SIGN_IN = f"{PREFIX}/sign-in"
SIGN_OUT = f"{PREFIX}/sign-out"
# The shared middleware adds CSP, no-referrer and no-store; sign-in tokens are in URLs, so never index.
SECURITY_HEADERS = {"X-Robots-Tag": "noindex, nofollow"}


@dataclass(frozen=True)
class Message:
    title: str
    paragraphs: tuple[str, ...]
    link: tuple[str, str] | None = None  # (href, text)


_ASK_AGAIN = (SIGN_IN, "Ask for a new link")
LINK_UNKNOWN = Message(
    "Link not recognised",
    ("We do not recognise this sign-in link. Check that you used the whole link from the email.",),
    _ASK_AGAIN,
)
LINK_EXPIRED = Message(
    "This link has expired", ("Sign-in links work for a short time only, for your security.",), _ASK_AGAIN
)
LINK_USED = Message("This link has already been used", ("Each sign-in link works once.",), _ASK_AGAIN)
TOO_MANY_LINKS = Message(
    "Too many unrecognised links",
    ("We have seen too many links we do not recognise from your network. Wait a minute, then try again.",),
)
TOO_MANY_REQUESTS = Message(
    "Too many requests",
    ("We have had too many requests for sign-in links from your network. Wait an hour, then try again.",),
)
NOT_FOUND = Message(
    "Observation not found", ("There is no such observation in your journal.",), (ENTRIES, "Go to your journal")
)
TOO_LARGE = Message("Too much text", ("What you sent was too long to save. Go back and shorten it.",))


def _render(template: str, **context: object) -> str:
    context.setdefault("errors", ())
    return _templates.get_template(template).render(service_name=SERVICE_NAME, home_href=PREFIX, **context)


def _error_map(errors: Sequence[FieldError]) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The error summary's (element id, message) list, and each field's message by its name."""
    summary = [(error.field, error.message) for error in errors]
    by_name = {error.field.removesuffix("-1").removesuffix("-day"): error.message for error in errors}
    return summary, by_name


def message_page(message: Message) -> str:
    return _render("message.html", page_title=message.title, message=message)


def start_page() -> str:
    return _render("start.html", page_title="Record the leadership you see", sign_in=SIGN_IN)


def sign_in_page(*, email: str = "", errors: Sequence[FieldError] = ()) -> str:
    summary, by_name = _error_map(errors)
    return _render(
        "sign_in.html", page_title="Sign in or create an account", email=email, errors=summary, error_for=by_name
    )


def check_email_page(minutes: float) -> str:
    return _render("check_email.html", page_title="Check your email", minutes=round(minutes), again=SIGN_IN)


def link_page(*, new_account: bool, values: Mapping[str, str] | None = None, errors: Sequence[FieldError] = ()) -> str:
    summary, by_name = _error_map(errors)
    title = "Create your account" if new_account else "Sign in to HLM Observations"
    return _render(
        "link.html",
        page_title=title,
        new_account=new_account,
        values=values or {},
        errors=summary,
        error_for=by_name,
        max_name=MAX_NAME,
        max_programme=MAX_PROGRAMME,
    )


@dataclass(frozen=True)
class ShownRow:
    title: str
    level: str
    wording: str


@dataclass(frozen=True)
class EntryRow:
    """One entry as the pages show it."""

    id: UUID
    href: str
    observed_on: str
    whose: str
    shown: tuple[ShownRow, ...]
    context: str
    what_happened: str
    impact: str


def _long_date(day: date | None) -> str:
    return f"{day.day} {day:%B %Y}" if day else "No date yet"


def _wording(bank: ItemBank, entry: Entry) -> dict[tuple[str, str], str]:
    first_person = entry.whose is Whose.MINE
    return {
        (section.dimension.value, item.level.value): item.for_rater(self_rating=first_person)
        for section, item in bank.items
    }


def entry_row(bank: ItemBank, summary: Summary) -> EntryRow:
    entry = summary.entry
    wording = _wording(bank, entry)
    shown = tuple(
        ShownRow(s.dimension.title, LEVEL_TITLES[s.level], wording.get((s.dimension.value, s.level.value), ""))
        for s in entry.shown
    )
    return EntryRow(
        id=summary.id,
        href=f"{ENTRIES}/{summary.id}",
        observed_on=_long_date(entry.observed_on),
        whose=WHOSE_LABELS[entry.whose] if entry.whose else "Not chosen yet",
        shown=shown,
        context=entry.context,
        what_happened=entry.what_happened,
        impact=entry.impact,
    )


def journal_page(
    bank: ItemBank,
    *,
    account: AccountView,
    journal: Journal,
    only: Filter,
    query: Mapping[str, str],
    errors: Sequence[FieldError] = (),
) -> str:
    summary, by_name = _error_map(errors)
    filtered = only.dimension is not None or only.date_from is not None or only.date_to is not None
    return _render(
        "journal.html",
        page_title="Your observations",
        account=account,
        recorded=[entry_row(bank, s) for s in journal.recorded],
        drafts=[entry_row(bank, s) for s in journal.drafts],
        dimensions=[(s.dimension.value, s.title) for s in bank.dimensions],
        query=query,
        filtered=filtered,
        errors=summary,
        error_for=by_name,
        new_href=f"{ENTRIES}/new",
        clear_href=ENTRIES,
        sign_out=SIGN_OUT,
    )


@dataclass(frozen=True)
class LevelOption:
    value: str
    title: str
    wording: str


@dataclass(frozen=True)
class DimensionChoice:
    value: str
    title: str
    description: str
    field: str
    levels: tuple[LevelOption, ...]


def _choices(bank: ItemBank, *, first_person: bool) -> list[DimensionChoice]:
    order = list(Level)
    return [
        DimensionChoice(
            value=section.dimension.value,
            title=section.title,
            description=section.description,
            field=dimension_field(section.dimension),
            levels=tuple(
                LevelOption(item.level.value, LEVEL_TITLES[item.level], item.for_rater(self_rating=first_person))
                for item in sorted(section.items, key=lambda item: order.index(item.level))
            ),
        )
        for section in bank.dimensions
    ]


def entry_form_page(
    bank: ItemBank,
    *,
    action: str,
    values: Mapping[str, str],
    chosen: Sequence[str],
    errors: Sequence[FieldError] = (),
    editing: bool,
    draft: bool,
) -> str:
    summary, by_name = _error_map(errors)
    return _render(
        "entry_form.html",
        page_title="Edit your observation" if editing else "Record an observation",
        action=action,
        values=values,
        chosen=set(chosen),
        errors=summary,
        error_for=by_name,
        dimensions=_choices(bank, first_person=values.get("whose") == Whose.MINE.value),
        whose=[(w.value, WHOSE_LABELS[w]) for w in Whose],
        may_keep_draft=draft,
        back_href=ENTRIES,
        limits={"context": MAX_CONTEXT, "what_happened": MAX_WHAT_HAPPENED, "impact": MAX_IMPACT},
    )


def entry_page(bank: ItemBank, summary: Summary, *, saved: bool = False) -> str:
    return _render(
        "entry.html",
        page_title="Your observation",
        entry=entry_row(bank, summary),
        draft=summary.status is Status.DRAFT,
        saved=saved,
        back_href=ENTRIES,
    )


def delete_page(bank: ItemBank, summary: Summary) -> str:
    return _render("delete.html", page_title="Delete this observation?", entry=entry_row(bank, summary))
