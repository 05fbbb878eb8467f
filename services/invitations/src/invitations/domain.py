"""Pure rules for opening a 360: nominations, funding and rater link tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections import Counter
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID

from shared.contracts.vocabulary import FundingMethod, RaterGroup
from shared.errors import Rejected


@dataclass(frozen=True)
class Nominee:
    group: RaterGroup
    name: str
    email: str


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_nominations(*, participant_email: str, nominees: list[Nominee]) -> None:
    """Refuse nomination lists that would break the 360: the messages are for the participant."""
    problems: list[str] = []
    own = normalise_email(participant_email)
    emails = [normalise_email(n.email) for n in nominees]
    if own in emails:
        problems.append("the participant cannot also be nominated as a rater (they rate themself as 'self')")
    repeated = sorted(e for e, count in Counter(emails).items() if count > 1)
    if repeated:
        problems.append(f"{len(repeated)} rater email address(es) appear more than once")
    line_managers = sum(1 for n in nominees if n.group is RaterGroup.LINE_MANAGER)
    if line_managers != 1:
        problems.append(f"exactly one line manager is needed (got {line_managers})")
    if any(n.group is RaterGroup.SELF for n in nominees):
        problems.append("'self' is added automatically and cannot be nominated")
    if problems:
        raise Rejected("; ".join(problems))


def price_with_vat(*, net: Decimal, vat_rate: Decimal) -> Decimal:
    return (net * (1 + vat_rate)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def check_funding(*, method: FundingMethod, reference: str) -> None:
    if not reference.strip():
        raise Rejected(f"funding by {method.value} needs a reference")


def link_token(*, secret: bytes, rater_id: UUID) -> str:
    """The rater's personal link token: 256 bits, derived so it never has to be stored."""
    digest = hmac.new(secret, rater_id.bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
