"""Issue 12 item 3: the confirmation a public request waits for expires, and its email carries a
link signed for that purpose only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from invitations.domain import confirmation_expired
from invitations.links import CONFIRM, PARTICIPANT, purpose_token, token_matches
from shared.links import SigningKeys

REQUESTED = datetime(2027, 3, 1, 9, tzinfo=UTC)


def test_a_confirmation_expires_after_its_hours() -> None:
    assert not confirmation_expired(REQUESTED, now=REQUESTED + timedelta(hours=47, minutes=59), hours=48)
    assert confirmation_expired(REQUESTED, now=REQUESTED + timedelta(hours=48), hours=48)


def test_a_confirmation_link_is_its_own_purpose() -> None:
    keys, cycle_id = SigningKeys(b"k" * 40), uuid4()
    token = purpose_token(keys, CONFIRM, cycle_id)
    assert token_matches(keys, CONFIRM, cycle_id, token)
    assert not token_matches(keys, PARTICIPANT, cycle_id, token), "it never opens the participant's view"
    assert not token_matches(keys, CONFIRM, uuid4(), token), "nor confirms another 360"
    assert not token_matches(keys, CONFIRM, cycle_id, purpose_token(keys, PARTICIPANT, cycle_id))
