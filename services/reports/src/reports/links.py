"""Signed, expiring download links: `<kind>.<subject>.<role>.<holder>.<expires>.<signature>`.

The signature is HMAC-SHA256 (secret `link_secret`) over everything before it, so a link names
exactly one report (or self-assessment/cohort snapshot), one role, one holder and one expiry
moment; changing any part, or using it after it expires, is refused. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

KINDS = ("report", "cohort")
ROLES = ("facilitator", "participant", "programme_lead")
NOBODY = "-"


@dataclass(frozen=True)
class Link:
    kind: str
    subject_id: UUID
    role: str
    holder_id: UUID | None
    expires_at: datetime

    @property
    def _message(self) -> str:
        holder = str(self.holder_id) if self.holder_id else NOBODY
        return f"{self.kind}.{self.subject_id}.{self.role}.{holder}.{int(self.expires_at.timestamp())}"


class BadLink(Exception):
    """The link is malformed, forged or altered (the reason is safe to audit)."""


def sign(link: Link, *, secret: bytes) -> str:
    if link.kind not in KINDS or link.role not in ROLES:
        raise ValueError("unknown link kind or role")
    message = link._message
    return f"{message}.{_signature(message, secret)}"


def verify(token: str, *, secret: bytes) -> Link:
    """The link a token stands for, if its signature is right (expiry is checked by the caller)."""
    message, _, signature = token.rpartition(".")
    if not message or not hmac.compare_digest(_bytes(signature), _bytes(_signature(message, secret))):
        raise BadLink("bad_signature")
    try:
        kind, subject, role, holder, expires = message.split(".")
        return Link(
            kind=kind,
            subject_id=UUID(subject),
            role=role,
            holder_id=None if holder == NOBODY else UUID(holder),
            expires_at=datetime.fromtimestamp(int(expires), UTC),
        )
    except ValueError:
        raise BadLink("malformed") from None


def expired(link: Link, *, now: datetime) -> bool:
    return now >= link.expires_at


def _signature(message: str, secret: bytes) -> str:
    return hmac.new(secret, _bytes(message), hashlib.sha256).hexdigest()[:40]


def token_sha256(token: str) -> str:
    return hashlib.sha256(_bytes(token)).hexdigest()


def _bytes(text: str) -> bytes:
    # A token is whatever a URL or JSON body held: compare_digest refuses non-ASCII str, and JSON
    # may carry a lone surrogate, which strict utf-8 cannot encode.
    return text.encode("utf-8", "surrogatepass")
