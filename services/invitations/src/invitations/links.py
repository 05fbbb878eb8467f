"""This service's signed personal links (shared.links, docs/adr/0012). Pure: no I/O.

- The rater's personal ratings link token: derived from the rater id, never stored; ratings only
  knows its SHA-256 (RaterNominated.link_token_sha256). It is derived with the key recorded on the
  rater row (`Rater.link_key_id`; NULL: the current key), so rotating the secret does not change a
  link ratings knows. A rater whose key is no longer configured is re-keyed (usecases.intake).
- The participant's view, the line manager's approval and the participant's confirmation links:
  an expiring token per purpose and cycle (`<expires>.<signature>`, docs/adr/0016), verified here
  with the current or a previous key; an email mints a fresh one each time it is sent.
- The start form's id for the 360 it will ask for: signed, does not expire (it is no personal link).
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from uuid import UUID

from shared.links import Freshness, SigningKeys, check_expiring, expiring_token, signature

PARTICIPANT = "participant"
APPROVAL = "approval"
START_FORM = "start-form"  # the start page's id for the 360 it will ask for (server-generated)
CONFIRM = "confirm"  # the participant confirms a 360 asked for on the public page or API
_SERVICE = "invitations"


def rater_token(keys: SigningKeys, rater_id: UUID, key_id: str | None) -> str | None:
    """The rater's link token with the key `key_id` names (None: the current key); None if that key
    is no longer configured, so the rater must be re-keyed."""
    key = keys.current if key_id is None else keys.by_id(key_id)
    return None if key is None else signature(key, _SERVICE, "rater", rater_id)


def purpose_token(keys: SigningKeys, purpose: str, cycle_id: UUID, *, expires_at: datetime) -> str:
    """A personal token for one purpose (participant's view, approval, confirmation) of one cycle,
    valid until `expires_at`."""
    return expiring_token(keys, _SERVICE, "cycle", purpose, cycle_id, expires_at=expires_at)


def token_freshness(keys: SigningKeys, purpose: str, cycle_id: UUID, token: str, *, now: datetime) -> Freshness:
    """Signed for this purpose and cycle with the current or a previous key, and in date; never raises."""
    return check_expiring(keys, token, _SERVICE, "cycle", purpose, cycle_id, now=now)


def form_token(keys: SigningKeys, cycle_id: UUID) -> str:
    """The start form's signed id for the 360 it will ask for (so a double submit opens one 360)."""
    return keys.sign(_SERVICE, "cycle", START_FORM, cycle_id)


def form_token_matches(keys: SigningKeys, cycle_id: UUID, token: str) -> bool:
    """Signed by this service for the start form with the current or a previous key; never raises."""
    return keys.verify(token, _SERVICE, "cycle", START_FORM, cycle_id)


def requested_cycle_id(keys: SigningKeys, *, mailbox: str, idempotency_key: str) -> UUID:
    """The id of a 360 asked for on POST /api/cycles with an `Idempotency-Key`: the same participant
    mailbox and key give the same id (a retry opens nothing new), and nobody without the current key
    can predict it or aim it at an id that a cohort import will use."""
    signed = keys.sign(_SERVICE, "api-cycle", mailbox, idempotency_key)  # 256 bits, base64url
    return uuid.UUID(bytes=base64.urlsafe_b64decode(signed + "=")[:16], version=4)
