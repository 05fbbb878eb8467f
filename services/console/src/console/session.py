"""The console's sign-in session: after a staff token is checked once (shared.web.admin), the
browser holds a signed, expiring cookie naming the operator (`local-admin` or `staff-<hash>`, never
the token or a name). HttpOnly, SameSite=Strict (no other site can send it), Secure on https, and
Path=/console (the origin is shared with the services: they never see it). Pure."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from shared.links import Freshness, SigningKeys, check_expiring, expiring_token

COOKIE = "hlm360_console"
_SUBJECT = re.compile(r"^(local-admin|staff-[0-9a-f]{12})$")
_PURPOSE = ("console", "session")


def issue(keys: SigningKeys, subject: str, *, now: datetime, lifetime: timedelta) -> str:
    if not _SUBJECT.fullmatch(subject):
        raise ValueError("a session names an operator by a safe tag only")
    return f"{subject}.{expiring_token(keys, *_PURPOSE, subject, expires_at=now + lifetime)}"


def operator(keys: SigningKeys, cookie: str | None, *, now: datetime) -> str | None:
    """The operator a cookie names if it is ours and in date; else None. Never raises."""
    if not cookie or len(cookie) > 200:
        return None
    subject, _, token = cookie.partition(".")
    if not _SUBJECT.fullmatch(subject):
        return None
    return subject if check_expiring(keys, token, *_PURPOSE, subject, now=now) is Freshness.VALID else None


def form_token(keys: SigningKeys, subject: str) -> str:
    """The token every form of the console carries (with the SameSite cookie: belt and braces)."""
    return keys.sign(*_PURPOSE, "form", subject)


def form_token_matches(keys: SigningKeys, subject: str, given: str) -> bool:
    return keys.verify(given, *_PURPOSE, "form", subject)
