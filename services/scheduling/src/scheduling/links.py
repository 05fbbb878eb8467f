"""This service's signed personal links: booking, facilitator and lead pages (shared.links: HMAC-SHA256
over service, purpose, id and link version; never stored). Nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from shared.links import SigningKeys


class LinkPurpose(StrEnum):
    BOOKING = "booking"  # a participant's booking page, per cycle
    FACILITATOR = "facilitator"
    LEAD = "lead"


PREFIXES = {LinkPurpose.BOOKING: "book", LinkPurpose.FACILITATOR: "facilitator", LinkPurpose.LEAD: "lead"}
_SERVICE = "scheduling"


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
    keys: SigningKeys
    base_url: str

    def signature(self, purpose: LinkPurpose, subject_id: UUID, version: int = 1) -> str:
        """256 bits, not transferable between purposes. Renewing a facilitator's or lead's link raises
        its version, so the old link stops working."""
        return self.keys.sign(_SERVICE, purpose.value, subject_id, version)

    def path(self, purpose: LinkPurpose, subject_id: UUID, version: int = 1) -> str:
        """`version`: the facilitator's or lead's `link_version` (booking links are always version 1)."""
        return link_path(purpose, subject_id, self.signature(purpose, subject_id, version))

    def url(self, purpose: LinkPurpose, subject_id: UUID, version: int = 1) -> str:
        return self.base_url.rstrip("/") + self.path(purpose, subject_id, version)

    def facilitator(self, facilitator: LinkHolder) -> str:
        return self.url(LinkPurpose.FACILITATOR, facilitator.id, facilitator.link_version)

    def lead(self, lead: LinkHolder) -> str:
        return self.url(LinkPurpose.LEAD, lead.id, lead.link_version)

    def is_valid(self, purpose: LinkPurpose, subject_id: UUID, signature: str, version: int = 1) -> bool:
        """Signed with the current or a previous key; a huge signature is refused at no cost."""
        return self.keys.verify(signature, _SERVICE, purpose.value, subject_id, version)
