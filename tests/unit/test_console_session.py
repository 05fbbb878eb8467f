"""The console's sign-in cookie (services/console/src/console/session.py): signed, expiring, naming
the operator by a safe tag; anything else is refused without raising."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from console import session
from shared.links import SigningKeys

KEYS = SigningKeys(current=b"k" * 32)
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_a_session_names_its_operator_until_it_expires() -> None:
    cookie = session.issue(KEYS, "staff-0123456789ab", now=NOW, lifetime=timedelta(hours=8))
    assert session.operator(KEYS, cookie, now=NOW + timedelta(hours=7)) == "staff-0123456789ab"
    assert session.operator(KEYS, cookie, now=NOW + timedelta(hours=8)) is None, "expired"
    assert session.operator(SigningKeys(current=b"x" * 32), cookie, now=NOW) is None, "another key"
    forged = cookie.replace("staff-0123456789ab", "local-admin", 1)
    assert session.operator(KEYS, forged, now=NOW) is None, "the subject is signed"


def test_only_safe_tags_are_put_in_a_session() -> None:
    with pytest.raises(ValueError):
        session.issue(KEYS, "jo.bloggs@example.nhs.uk", now=NOW, lifetime=timedelta(hours=1))


@given(st.text(max_size=300))
def test_any_cookie_text_is_refused_without_raising(cookie: str) -> None:
    assert session.operator(KEYS, cookie, now=NOW) is None


def test_form_tokens_belong_to_one_operator() -> None:
    token = session.form_token(KEYS, "local-admin")
    assert session.form_token_matches(KEYS, "local-admin", token)
    assert not session.form_token_matches(KEYS, "staff-0123456789ab", token)
