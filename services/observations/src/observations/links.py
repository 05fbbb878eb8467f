"""The journal's signed links (pure, over shared.links): the session cookie and the one-time
sign-in link tokens. After a one-time link is used, the browser holds a signed, expiring cookie
naming the account by its id only: HttpOnly, SameSite=Strict (no other site can send it), Secure
on https, and Path=/observations (pages.PREFIX: the origin is shared with the other services,
which never see it)."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from shared.links import Freshness, SigningKeys, check_expiring, expiring_token

COOKIE = "hlm360_observations"
_PURPOSE = ("observations", "session")
_LINK = ("observations", "sign-in-link")
MAX_COOKIE = 200
MAX_LINK_TOKEN = 100


def issue(keys: SigningKeys, account_id: UUID, *, now: datetime, lifetime: timedelta) -> str:
    subject = str(account_id)
    return f"{subject}.{expiring_token(keys, *_PURPOSE, subject, expires_at=now + lifetime)}"


def account_of(keys: SigningKeys, cookie: str | None, *, now: datetime) -> UUID | None:
    """The account a cookie names if it is ours and in date; else None. Never raises."""
    if not cookie or len(cookie) > MAX_COOKIE:
        return None
    subject, _, token = cookie.partition(".")
    try:
        account_id = UUID(subject)
    except ValueError:
        return None
    if str(account_id) != subject:
        return None
    fresh = check_expiring(keys, token, *_PURPOSE, subject, now=now) is Freshness.VALID
    return account_id if fresh else None


def link_token(keys: SigningKeys, link_id: UUID) -> str:
    """The token of a one-time link: recomputed from the link's id when its email is composed, so
    the database holds only its SHA-256."""
    return keys.sign(*_LINK, str(link_id))
