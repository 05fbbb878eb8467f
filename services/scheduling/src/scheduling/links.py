"""This service's signed personal links: booking, facilitator and lead pages (shared.links: HMAC-SHA256
over service, purpose, id and link version; never stored). Nothing else.

A participant's booking link expires (`/book/<cycle>/<expires>.<signature>`, the expiry signed,
docs/adr/0016); every email that carries it mints a fresh one. Facilitators' and leads' links do
not expire: they are renewed by raising their version (docs/adr/0007)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from shared.links import Freshness, SigningKeys, check_expiring, expiring_token


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
    booking_lifetime: timedelta = timedelta(days=90)

    def signature(self, purpose: LinkPurpose, subject_id: UUID, version: int = 1) -> str:
        """256 bits, not transferable between purposes. Renewing a facilitator's or lead's link raises
        its version, so the old link stops working. Booking links expire: `booking_token`."""
        if purpose is LinkPurpose.BOOKING:
            raise ValueError("a booking link expires: use booking_token / booking_url")
        return self.keys.sign(_SERVICE, purpose.value, subject_id, version)

    def path(self, purpose: LinkPurpose, subject_id: UUID, version: int = 1) -> str:
        """`version`: the facilitator's or lead's `link_version`."""
        return link_path(purpose, subject_id, self.signature(purpose, subject_id, version))

    def booking_token(self, cycle_id: UUID, *, expires_at: datetime) -> str:
        """`<expires>.<signature>`: the participant's booking page of one cycle until `expires_at`."""
        return expiring_token(self.keys, _SERVICE, LinkPurpose.BOOKING.value, cycle_id, expires_at=expires_at)

    def booking_path(self, cycle_id: UUID, *, now: datetime) -> str:
        """A booking link valid for `booking_lifetime` from `now` (when its email is queued)."""
        token = self.booking_token(cycle_id, expires_at=now + self.booking_lifetime)
        return link_path(LinkPurpose.BOOKING, cycle_id, token)

    def booking_url(self, cycle_id: UUID, *, now: datetime) -> str:
        return self.base_url.rstrip("/") + self.booking_path(cycle_id, now=now)

    def booking_freshness(self, cycle_id: UUID, token: str, *, now: datetime) -> Freshness:
        """Signed (current or previous key) for this cycle's booking page, and in date; never raises."""
        return check_expiring(self.keys, token, _SERVICE, LinkPurpose.BOOKING.value, cycle_id, now=now)

    def url(self, purpose: LinkPurpose, subject_id: UUID, version: int = 1) -> str:
        return self.base_url.rstrip("/") + self.path(purpose, subject_id, version)

    def facilitator(self, facilitator: LinkHolder) -> str:
        return self.url(LinkPurpose.FACILITATOR, facilitator.id, facilitator.link_version)

    def lead(self, lead: LinkHolder) -> str:
        return self.url(LinkPurpose.LEAD, lead.id, lead.link_version)

    def is_valid(self, purpose: LinkPurpose, subject_id: UUID, signature: str, version: int = 1) -> bool:
        """A facilitator's or lead's link signed with the current or a previous key; a huge signature is
        refused at no cost. Never true for a booking link (`booking_freshness`)."""
        if purpose is LinkPurpose.BOOKING:
            return False
        return self.keys.verify(signature, _SERVICE, purpose.value, subject_id, version)
