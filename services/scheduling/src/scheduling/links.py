"""The signed personal-link codec: make and verify the links of booking, facilitator and lead pages
(HMAC-SHA256 over purpose, id and link version; never stored). Nothing else."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from uuid import UUID

# A signature is 43 characters; anything much longer is refused before any work is done.
MAX_SIGNATURE = 100


class LinkPurpose(StrEnum):
    BOOKING = "booking"  # a participant's booking page, per cycle
    FACILITATOR = "facilitator"
    LEAD = "lead"


PREFIXES = {LinkPurpose.BOOKING: "book", LinkPurpose.FACILITATOR: "facilitator", LinkPurpose.LEAD: "lead"}


def link_signature(*, secret: bytes, purpose: LinkPurpose, subject_id: UUID, version: int = 1) -> str:
    """HMAC-SHA256 over purpose, id and the subject's link version: 256 bits, never stored, not
    transferable between purposes. Renewing a facilitator's or lead's link raises the version, so
    the old link stops working (version 1 signs as links always did, so links already sent work)."""
    signed = f"{purpose.value}:{subject_id}" + (f":{version}" if version != 1 else "")
    digest = hmac.new(secret, signed.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def link_is_valid(*, secret: bytes, purpose: LinkPurpose, subject_id: UUID, signature: str, version: int = 1) -> bool:
    expected = link_signature(secret=secret, purpose=purpose, subject_id=subject_id, version=version)
    # Bytes, not str: compare_digest refuses non-ASCII str, and a lone surrogate cannot be encoded strictly.
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "surrogatepass"))


def link_path(purpose: LinkPurpose, subject_id: UUID, signature: str) -> str:
    """The page a link opens: `/<kind>/<id>/<signature>`."""
    return f"/{PREFIXES[purpose]}/{subject_id}/{signature}"


class LinkHolder(Protocol):
    """A facilitator or regional lead: whose link, and its current version."""

    @property
    def id(self) -> UUID: ...

    @property
    def link_version(self) -> int: ...


@dataclass(frozen=True)
class Links:
    secret: bytes
    base_url: str

    def path(self, purpose: LinkPurpose, subject_id: UUID, version: int = 1) -> str:
        """`version`: the facilitator's or lead's `link_version` (booking links are always version 1)."""
        signature = link_signature(secret=self.secret, purpose=purpose, subject_id=subject_id, version=version)
        return link_path(purpose, subject_id, signature)

    def url(self, purpose: LinkPurpose, subject_id: UUID, version: int = 1) -> str:
        return self.base_url.rstrip("/") + self.path(purpose, subject_id, version)

    def facilitator(self, facilitator: LinkHolder) -> str:
        return self.url(LinkPurpose.FACILITATOR, facilitator.id, facilitator.link_version)

    def lead(self, lead: LinkHolder) -> str:
        return self.url(LinkPurpose.LEAD, lead.id, lead.link_version)

    def is_valid(self, purpose: LinkPurpose, subject_id: UUID, signature: str, version: int = 1) -> bool:
        """Checks the length first, so a huge signature costs nothing."""
        return len(signature) <= MAX_SIGNATURE and link_is_valid(
            secret=self.secret, purpose=purpose, subject_id=subject_id, signature=signature, version=version
        )
