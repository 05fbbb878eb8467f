"""Every token and signature check answers yes or no to any text a URL, form or JSON body can hold
(non-ASCII, lone surrogates, empty, huge), and never raises."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast
from uuid import UUID, uuid4

import pytest
from fastapi import HTTPException, Request
from hypothesis import given
from hypothesis import strategies as st

from invitations.links import purpose_token, token_freshness
from reports import links
from reports.usecases import hmac_equal
from scheduling.links import LinkPurpose, Links
from shared.links import Freshness, SigningKeys, token_sha256
from shared.settings import ServiceSettings
from shared.web.admin import require_admin

KEYS = SigningKeys(b"s" * 32, previous=(b"p" * 32,))
SCHEDULING = Links(keys=KEYS, base_url="")
HUGE = "é" * 1_000_000

# st.text() leaves out lone surrogates, which a JSON body may still carry ("\ud800").
ANY_TEXT = st.text(st.one_of(st.characters(), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)))


NOW = datetime(2027, 1, 1, tzinfo=UTC)
LATER = datetime(2027, 6, 1, tzinfo=UTC)


@given(token=ANY_TEXT, subject=st.uuids())
def test_invitations_token_check_refuses_any_other_text(token: str, subject: UUID) -> None:
    assert token_freshness(KEYS, "view", subject, token, now=NOW) is Freshness.NOT_RECOGNISED


@given(expires=ANY_TEXT, subject=st.uuids())
def test_invitations_token_check_refuses_any_expiry_before_a_real_signature(expires: str, subject: UUID) -> None:
    signature = purpose_token(KEYS, "view", subject, expires_at=LATER).partition(".")[2]
    token = f"{expires}.{signature}"
    assert token_freshness(KEYS, "view", subject, token, now=NOW) in (
        (Freshness.VALID,) if expires == str(int(LATER.timestamp())) else (Freshness.NOT_RECOGNISED,)
    )


def test_invitations_token_check_accepts_its_own_token_and_refuses_huge_text() -> None:
    subject = uuid4()
    token = purpose_token(KEYS, "view", subject, expires_at=LATER)
    assert token_freshness(KEYS, "view", subject, token, now=NOW) is Freshness.VALID
    for wrong in (token + "é", HUGE, "9" * 10_000 + "." + token.partition(".")[2], token.replace(".", "..")):
        assert token_freshness(KEYS, "view", subject, wrong, now=NOW) is Freshness.NOT_RECOGNISED


@given(signature=ANY_TEXT, subject=st.uuids())
def test_scheduling_link_check_refuses_any_other_text(signature: str, subject: UUID) -> None:
    assert SCHEDULING.booking_freshness(subject, signature, now=NOW) is Freshness.NOT_RECOGNISED
    assert SCHEDULING.is_valid(LinkPurpose.LEAD, subject, signature) is False


def test_scheduling_booking_check_accepts_its_own_token_and_refuses_huge_text() -> None:
    subject = uuid4()
    token = SCHEDULING.booking_token(subject, expires_at=LATER)
    assert SCHEDULING.booking_freshness(subject, token, now=NOW) is Freshness.VALID
    assert SCHEDULING.booking_freshness(subject, HUGE, now=NOW) is Freshness.NOT_RECOGNISED


def test_scheduling_link_check_accepts_its_own_signature() -> None:
    subject = uuid4()
    signature = SCHEDULING.signature(LinkPurpose.LEAD, subject)
    assert SCHEDULING.is_valid(LinkPurpose.LEAD, subject, signature)
    assert not SCHEDULING.is_valid(LinkPurpose.LEAD, subject, HUGE)


@given(token=ANY_TEXT)
def test_reports_link_verify_refuses_any_other_text_as_a_bad_link(token: str) -> None:
    with pytest.raises(links.BadLink):
        links.verify(token, keys=KEYS)


@given(prefix=ANY_TEXT, signature=ANY_TEXT)
def test_reports_link_verify_refuses_any_signature_after_a_dot(prefix: str, signature: str) -> None:
    with pytest.raises(links.BadLink):
        links.verify(f"{prefix}.{signature}", keys=KEYS)


def test_reports_link_verify_accepts_its_own_link() -> None:
    expires_at = datetime(2030, 1, 1, tzinfo=UTC)
    link = links.Link(kind="report", subject_id=uuid4(), role="participant", holder_id=None, expires_at=expires_at)
    assert links.verify(links.sign(link, keys=KEYS), keys=KEYS) == link
    with pytest.raises(links.BadLink):
        links.verify(HUGE + "." + HUGE, keys=KEYS)


@given(a=ANY_TEXT, b=ANY_TEXT)
def test_reports_token_hash_and_comparison_never_raise(a: str, b: str) -> None:
    assert hmac_equal(token_sha256(a), token_sha256(b)) == (a == b)
    assert hmac_equal(a, b) == (a == b)


def _request(admin_token: str) -> Request:
    database_url = "postgresql://test:not-a-placeholder@localhost/test"
    settings = ServiceSettings(service_name="test", database_url=database_url, http_port=1, admin_token=admin_token)
    return cast(Request, SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(settings=settings))))


@given(header=ANY_TEXT)
def test_admin_token_check_answers_401_to_any_other_header(header: str) -> None:
    with pytest.raises(HTTPException) as refused:
        asyncio.run(require_admin(_request("the-admin-token-é"), authorization=header))
    assert refused.value.status_code == 401


async def test_admin_token_check_accepts_the_token() -> None:
    await require_admin(_request("the-admin-token"), authorization="Bearer the-admin-token")
    await require_admin(_request("the-admin-token"), authorization="bearer  the-admin-token ")
    for wrong in ("Bearer " + HUGE, "the-admin-token", "Basic the-admin-token", "Bearer the-admin-token2"):
        with pytest.raises(HTTPException):
            await require_admin(_request("the-admin-token"), authorization=wrong)
