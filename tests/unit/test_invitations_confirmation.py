"""Issue 12 item 3: the confirmation a public request waits for expires, and its email carries a
link signed for that purpose only; generated credit codes cannot be guessed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from invitations.domain import confirmation_expired, funding_problem, new_credit_code, verified_participant_id
from invitations.links import CONFIRM, PARTICIPANT, purpose_token, token_freshness
from shared.contracts.vocabulary import FundingMethod
from shared.links import Freshness, SigningKeys

REQUESTED = datetime(2027, 3, 1, 9, tzinfo=UTC)


def test_a_confirmation_expires_after_its_hours() -> None:
    assert not confirmation_expired(REQUESTED, now=REQUESTED + timedelta(hours=47, minutes=59), hours=48)
    assert confirmation_expired(REQUESTED, now=REQUESTED + timedelta(hours=48), hours=48)


def test_a_confirmation_link_is_its_own_purpose() -> None:
    keys, cycle_id, later = SigningKeys(b"k" * 40), uuid4(), REQUESTED + timedelta(hours=48)
    token = purpose_token(keys, CONFIRM, cycle_id, expires_at=later)

    def freshness(purpose: str, cycle: UUID, given: str) -> Freshness:
        return token_freshness(keys, purpose, cycle, given, now=REQUESTED)

    assert freshness(CONFIRM, cycle_id, token) is Freshness.VALID
    assert freshness(PARTICIPANT, cycle_id, token) is Freshness.NOT_RECOGNISED, "it never opens the participant's view"
    assert freshness(CONFIRM, uuid4(), token) is Freshness.NOT_RECOGNISED, "nor confirms another 360"
    other = purpose_token(keys, PARTICIPANT, cycle_id, expires_at=later)
    assert freshness(CONFIRM, cycle_id, other) is Freshness.NOT_RECOGNISED


def test_generated_credit_codes_are_unguessable_and_typeable() -> None:
    codes = {new_credit_code("Mary Seacole 2027") for _ in range(1000)}
    assert len(codes) == 1000
    for code in list(codes)[:50]:
        assert re.fullmatch(r"MARY-SEACOLE-2027(-[0-9A-HJKMNP-TV-Z]{4}){5}", code), code
        assert funding_problem(method=FundingMethod.PROGRAMME_CREDIT, reference=code) is None
    assert new_credit_code("  ").startswith("CREDIT-")


def test_a_public_participant_id_comes_from_the_mailbox_only() -> None:
    ada = verified_participant_id("ada.okafor@trust.nhs.uk")
    assert ada == verified_participant_id(" Ada.Okafor+360@TRUST.nhs.uk "), "one person, however spelt"
    assert ada != verified_participant_id("adaokafor@trust.nhs.uk") != verified_participant_id("ada.okafor@nhs.net")
    assert ada.startswith("email-") and "okafor" not in ada
