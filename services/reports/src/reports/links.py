"""This service's signed, expiring download links: `<kind>.<subject>.<role>.<holder>.<expires>.<signature>`.

The signature (shared.links: HMAC-SHA256 with `link_secret`, or a previous secret still accepted)
is over every part before it, so a link names exactly one report (or self-assessment/cohort
snapshot), one role, one holder and one expiry moment; changing any part, or using it after it
expires, is refused. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from shared.links import SigningKeys

KINDS = ("report", "cohort")
ROLES = ("facilitator", "participant", "programme_lead")
NOBODY = "-"
_SERVICE = "reports"
_PARTS = 5  # kind, subject, role, holder, expires


@dataclass(frozen=True)
class Link:
    kind: str
    subject_id: UUID
    role: str
    holder_id: UUID | None
    expires_at: datetime

    @property
    def _parts(self) -> tuple[str, ...]:
        holder = str(self.holder_id) if self.holder_id else NOBODY
        return (self.kind, str(self.subject_id), self.role, holder, str(int(self.expires_at.timestamp())))


class BadLink(Exception):
    """The link is malformed, forged or altered (the reason is safe to audit)."""


def sign(link: Link, *, keys: SigningKeys) -> str:
    if link.kind not in KINDS or link.role not in ROLES:
        raise ValueError("unknown link kind or role")
    parts = link._parts
    return ".".join(parts) + "." + keys.sign(_SERVICE, *parts)


def verify(token: str, *, keys: SigningKeys) -> Link:
    """The link a token stands for, if its signature is right (expiry is checked by the caller)."""
    message, _, signature = token.rpartition(".")
    parts = message.split(".", _PARTS)  # however many dots a token holds: at most one part too many
    if len(parts) != _PARTS or not keys.verify(signature, _SERVICE, *parts):
        raise BadLink("bad_signature")
    kind, subject, role, holder, expires = parts
    try:
        return Link(
            kind=kind,
            subject_id=UUID(subject),
            role=role,
            holder_id=None if holder == NOBODY else UUID(holder),
            expires_at=datetime.fromtimestamp(int(expires), UTC),
        )
    except (ValueError, OverflowError, OSError):
        raise BadLink("malformed") from None


def expired(link: Link, *, now: datetime) -> bool:
    return now >= link.expires_at
