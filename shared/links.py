"""The one signed-link codec every service uses (docs/adr/0012): HMAC-SHA256 over a list of parts,
with key rotation (one current key signs; the current and any previous key verify). Pure: no I/O.

Each service keeps its own `links.py` saying what its links sign (purpose, ids, version, expiry)
and where they lead; this module only signs, verifies, names keys and hashes tokens. An expiring
token is `<expires>.<signature>`: the expiry (whole seconds since the epoch) is signed after the
parts and a label, so changing it breaks the signature (docs/adr/0016).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

# A signature is 43 characters; anything longer than this is refused before any work is done.
MAX_SIGNATURE = 100
_KEY_ID_DOMAIN = b"hlm360 link key id\x00"
# Expiry: whole seconds since the epoch, canonical digits only (no sign, no leading zero, ASCII);
# 11 digits reach the year 5138, and keep int() and datetime far from any overflow.
_EXPIRES = re.compile(r"[1-9][0-9]{0,10}")
MAX_EXPIRING_TOKEN = 12 + MAX_SIGNATURE
# Signed between the parts and the expiry, so no signature of a link that does not expire (whose
# last part may be a number, such as a link version) is ever a valid expiring token.
_EXPIRY_LABEL = "expires"

Part = str | UUID | int


def _bytes(text: str) -> bytes:
    # Whatever a URL or JSON body held: compare_digest refuses non-ASCII str, and JSON may carry a
    # lone surrogate, which strict utf-8 cannot encode.
    return text.encode("utf-8", "surrogatepass")


def _message(parts: tuple[Part, ...]) -> bytes:
    """Each part length-prefixed, so no two different part lists sign the same bytes."""
    if not parts:
        raise ValueError("a signed link signs at least one part")
    encoded = (_bytes(str(part)) for part in parts)
    return b"".join(len(part).to_bytes(4, "big") + part for part in encoded)


def signature(key: bytes, *parts: Part) -> str:
    """HMAC-SHA256 of the parts with `key`, base64url without padding (43 characters)."""
    digest = hmac.new(key, _message(parts), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def key_id(key: bytes) -> str:
    """A short, stable name for a key (8 hex characters), safe to store and log: a domain-separated
    hash that says nothing about the key itself."""
    return hashlib.sha256(_KEY_ID_DOMAIN + key).hexdigest()[:8]


@dataclass(frozen=True)
class SigningKeys:
    """The current key (signs new links) and the previous keys still accepted (rotation)."""

    current: bytes = field(repr=False)
    previous: tuple[bytes, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if not self.current:
            raise ValueError("a signing key must not be empty")
        if any(not key for key in self.previous):
            raise ValueError("a signing key must not be empty")

    def __repr__(self) -> str:
        return f"SigningKeys(current={self.current_id}, previous={[key_id(k) for k in self.previous]})"

    @property
    def accepted(self) -> tuple[bytes, ...]:
        return (self.current, *self.previous)

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    def by_id(self, wanted: str) -> bytes | None:
        """The accepted key with this id, or None if it is not (or no longer) configured."""
        return next((key for key in self.accepted if key_id(key) == wanted), None)  # ids are not secret

    def sign(self, *parts: Part) -> str:
        """A signature of the parts with the current key."""
        return signature(self.current, *parts)

    def verify(self, given: str, *parts: Part) -> bool:
        """True if `given` is the signature of the parts under the current or a previous key.
        An over-long signature is refused before any work is done."""
        if len(given) > MAX_SIGNATURE:
            return False
        given_bytes = _bytes(given)
        matches = [hmac.compare_digest(signature(key, *parts).encode(), given_bytes) for key in self.accepted]
        return any(matches)


class Freshness(StrEnum):
    """What an expiring token is: signed and in date, signed but past its expiry, or not ours."""

    VALID = "valid"
    EXPIRED = "expired"
    NOT_RECOGNISED = "not_recognised"


def expiring_token(keys: SigningKeys, *parts: Part, expires_at: datetime) -> str:
    """`<expires>.<signature>`, the signature (current key) over the parts and then the expiry."""
    if expires_at.tzinfo is None:
        raise ValueError("an expiry must be timezone-aware")
    expires = str(int(expires_at.timestamp()))
    if not _EXPIRES.fullmatch(expires):
        raise ValueError("an expiry must be after 1970 and before the year 5000")
    return f"{expires}.{keys.sign(*parts, _EXPIRY_LABEL, expires)}"


def check_expiring(keys: SigningKeys, token: str, *parts: Part, now: datetime) -> Freshness:
    """Signed over these parts with the current or a previous key, then in date; never raises.
    Anything malformed or over-long is refused before any HMAC is computed."""
    if len(token) > MAX_EXPIRING_TOKEN:
        return Freshness.NOT_RECOGNISED
    expires, dot, given = token.partition(".")
    if not dot or not _EXPIRES.fullmatch(expires):
        return Freshness.NOT_RECOGNISED
    if not keys.verify(given, *parts, _EXPIRY_LABEL, expires):
        return Freshness.NOT_RECOGNISED
    return Freshness.VALID if now.timestamp() < int(expires) else Freshness.EXPIRED


def token_sha256(token: str) -> str:
    """The SHA-256 hex of a token: the only form in which a service stores or sends someone's token."""
    return hashlib.sha256(_bytes(token)).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits, base64url)."""
    return secrets.token_urlsafe(32)
