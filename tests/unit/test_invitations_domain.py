from decimal import Decimal
from uuid import uuid4

import pytest

from invitations.domain import (
    Nominee,
    check_funding,
    check_nominations,
    link_token,
    price_with_vat,
    token_sha256,
)
from shared.contracts.vocabulary import FundingMethod, RaterGroup
from shared.errors import Rejected

LM = Nominee(group=RaterGroup.LINE_MANAGER, name="M", email="m@nhs.uk")


def peers(*emails: str) -> list[Nominee]:
    return [Nominee(group=RaterGroup.PEER, name="P", email=e) for e in emails]


def test_valid_nominations_pass() -> None:
    check_nominations(participant_email="me@nhs.uk", nominees=[LM, *peers("a@nhs.uk", "b@nhs.uk")])


@pytest.mark.parametrize(
    ("nominees", "message"),
    [
        ([LM, *peers("a@nhs.uk", "A@NHS.uk ")], "more than once"),
        ([LM, *peers("me@nhs.uk")], "cannot also be nominated"),
        (peers("a@nhs.uk"), "exactly one line manager"),
        ([LM, Nominee(group=RaterGroup.LINE_MANAGER, name="N", email="n@nhs.uk")], "exactly one line manager"),
    ],
)
def test_bad_nominations_are_refused_with_a_reason(nominees: list[Nominee], message: str) -> None:
    with pytest.raises(Rejected, match=message):
        check_nominations(participant_email="me@nhs.uk", nominees=nominees)


def test_price_is_exact_decimal_with_vat() -> None:
    assert price_with_vat(net=Decimal("40.00"), vat_rate=Decimal("0.20")) == Decimal("48.00")


def test_funding_needs_a_reference() -> None:
    with pytest.raises(Rejected, match="reference"):
        check_funding(method=FundingMethod.PURCHASE_ORDER, reference="  ")


def test_link_tokens_are_long_unique_and_only_their_hash_is_shared() -> None:
    a, b = uuid4(), uuid4()
    token_a = link_token(secret=b"k" * 32, rater_id=a)
    assert len(token_a) >= 43 and token_a != link_token(secret=b"k" * 32, rater_id=b)
    assert token_a == link_token(secret=b"k" * 32, rater_id=a)
    assert token_a != link_token(secret=b"other" * 8, rater_id=a)
    assert len(token_sha256(token_a)) == 64 and token_a not in token_sha256(token_a)
