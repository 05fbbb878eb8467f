"""The journal's rules and typed values, pure (no web, database or broker): who an account is,
what a sign-in link may do, what an observation holds. Forms parse into these (forms.py)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from shared.contracts.vocabulary import Dimension
from shared.questionnaire import Level

MAX_EMAIL = 254
MAX_NAME = 100
MAX_PROGRAMME = 200
MAX_CONTEXT = 2000
MAX_WHAT_HAPPENED = 5000
MAX_IMPACT = 2000
# An observation recorded for a day this long ago is more likely a typing slip than a memory.
OLDEST_YEARS = 10


class Whose(StrEnum):
    """Whose behaviour an observation is about: never who they are."""

    MINE = "mine"
    COLLEAGUE = "colleague"


WHOSE_LABELS = {Whose.MINE: "My own behaviour", Whose.COLLEAGUE: "Someone I work with"}
LEVEL_TITLES = {level: level.value.capitalize() for level in Level}


class Status(StrEnum):
    DRAFT = "draft"
    RECORDED = "recorded"


@dataclass(frozen=True)
class FieldError:
    """One problem with a form: the field's element id (the error summary links to it) and a message."""

    field: str
    message: str


def normalise_email(email: str) -> str:
    """The address an account is known by: NFKC, trimmed, case folded (one mailbox, one account)."""
    return unicodedata.normalize("NFKC", email).strip().casefold()


@dataclass(frozen=True)
class Profile:
    """What an account holds besides its email address."""

    display_name: str
    programme: str | None = None


class LinkState(StrEnum):
    """What a one-time sign-in link is now."""

    USABLE = "usable"
    USED = "used"
    EXPIRED = "expired"


def link_state(*, expires_at: datetime, used_at: datetime | None, now: datetime) -> LinkState:
    if used_at is not None:
        return LinkState.USED
    return LinkState.USABLE if now < expires_at else LinkState.EXPIRED


def link_expiry(now: datetime, *, minutes: float) -> datetime:
    return now + timedelta(minutes=minutes)


# --- observations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """One HLM dimension an observation is about, and the level of the behaviour seen."""

    dimension: Dimension
    level: Level


@dataclass(frozen=True)
class Entry:
    """An observation's fields, as typed values; a draft may leave any of them out."""

    observed_on: date | None = None
    context: str = ""
    whose: Whose | None = None
    shown: tuple[Shown, ...] = ()
    what_happened: str = ""
    impact: str = ""


@dataclass(frozen=True)
class Filter:
    """Which recorded observations the list shows."""

    dimension: Dimension | None = None
    date_from: date | None = None
    date_to: date | None = None
