"""The one signed-link codec (shared.links): signatures bound to their parts, key rotation (current
signs; current and previous verify; a removed key fails), any hostile text refused without raising,
key ids that never reveal a key, and expiring tokens whose expiry is signed (docs/adr/0016)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared import links
from shared.links import (
    MAX_SIGNATURE,
    Freshness,
    SigningKeys,
    check_expiring,
    expiring_token,
    key_id,
    new_token,
    signature,
    token_sha256,
)
from shared.settings import LinkSettings

OLD, NEW, RETIRED = b"o" * 32, b"n" * 32, b"r" * 32
# st.text() leaves out lone surrogates, which a JSON body may still carry ("\ud800").
ANY_TEXT = st.text(st.one_of(st.characters(), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)))


def test_a_signature_is_43_url_safe_characters_bound_to_every_part() -> None:
    keys, subject = SigningKeys(NEW), uuid4()
    signed = keys.sign("booking", subject, 1)
    assert len(signed) == 43 and signed.replace("-", "").replace("_", "").isalnum()
    assert keys.verify(signed, "booking", subject, 1)
    assert keys.verify(signed, "booking", str(subject), "1")  # parts are signed as text
    for other in (("lead", subject, 1), ("booking", uuid4(), 1), ("booking", subject, 2), ("booking", subject)):
        assert not keys.verify(signed, *other)


def test_parts_are_encoded_unambiguously() -> None:
    keys = SigningKeys(NEW)
    assert keys.sign("a:b", "c") != keys.sign("a", "b:c")
    assert keys.sign("ab", "") != keys.sign("a", "b")
    assert keys.sign("a.b") != keys.sign("a", "b")
    with pytest.raises(ValueError):
        keys.sign()


def test_rotation_previous_keys_verify_new_links_use_the_current_key_removed_keys_fail() -> None:
    subject = uuid4()
    sent_before = SigningKeys(OLD).sign("report", subject)
    rotated = SigningKeys(NEW, previous=(OLD,))
    assert rotated.verify(sent_before, "report", subject)
    assert rotated.sign("report", subject) == signature(NEW, "report", subject) != sent_before
    assert rotated.verify(rotated.sign("report", subject), "report", subject)
    removed = SigningKeys(NEW, previous=(RETIRED,))
    assert not removed.verify(sent_before, "report", subject)
    assert not SigningKeys(OLD).verify(rotated.sign("report", subject), "report", subject)


def test_keys_are_found_by_id_only_while_configured() -> None:
    keys = SigningKeys(NEW, previous=(OLD,))
    assert keys.current_id == key_id(NEW)
    assert keys.by_id(key_id(NEW)) == NEW and keys.by_id(key_id(OLD)) == OLD
    assert keys.by_id(key_id(RETIRED)) is None and keys.by_id("") is None and keys.by_id("é\ud800") is None


@given(key=st.binary(min_size=32, max_size=64))
def test_a_key_id_is_short_stable_and_never_reveals_the_key(key: bytes) -> None:
    ident = key_id(key)
    assert re.fullmatch("[0-9a-f]{8}", ident) and ident == key_id(key)
    assert ident != hashlib.sha256(key).hexdigest()[:8]  # domain-separated, not the key's plain hash
    assert ident not in key.hex()
    shown = repr(SigningKeys(key, previous=(key[::-1],)))
    assert ident in shown and key_id(key[::-1]) in shown
    for form in (key.hex(), repr(key), key.decode("latin-1"), key[::-1].hex()):
        assert form not in shown


def test_keys_must_not_be_empty() -> None:
    with pytest.raises(ValueError):
        SigningKeys(b"")
    with pytest.raises(ValueError):
        SigningKeys(NEW, previous=(b"",))


@given(given_signature=ANY_TEXT, part=ANY_TEXT, subject=st.uuids())
def test_any_other_text_is_refused_and_never_raises(given_signature: str, part: str, subject: UUID) -> None:
    keys = SigningKeys(NEW, previous=(OLD,))
    assert keys.verify(given_signature, part, subject) is False
    # hostile text as a part signs and verifies like any other
    assert keys.verify(keys.sign(part, subject), part, subject)


def test_an_over_long_signature_is_refused_even_with_a_valid_prefix() -> None:
    keys = SigningKeys(NEW)
    signed = keys.sign("x")
    assert not keys.verify(signed + "=" * (MAX_SIGNATURE - len(signed) + 1), "x")
    assert not keys.verify("é" * 1_000_000, "x")
    assert not keys.verify(signed + "é", "x") and not keys.verify(signed[:-1], "x") and not keys.verify("", "x")


@given(text=ANY_TEXT)
def test_token_sha256_is_the_hex_sha256_of_any_text(text: str) -> None:
    digest = token_sha256(text)
    assert len(digest) == 64 and digest == hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def test_token_sha256_known_value_and_new_tokens() -> None:
    assert token_sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100 and all(len(t) == 43 for t in tokens)


NOW = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(days=120)


def test_an_expiring_token_round_trips_until_its_expiry_and_is_bound_to_its_parts() -> None:
    keys, subject = SigningKeys(NEW), uuid4()
    token = expiring_token(keys, "participant", subject, expires_at=LATER)
    expires, _, signed = token.partition(".")
    assert expires == str(int(LATER.timestamp())) and len(signed) == 43
    assert check_expiring(keys, token, "participant", subject, now=NOW) is Freshness.VALID
    assert check_expiring(keys, token, "participant", subject, now=LATER - timedelta(seconds=1)) is Freshness.VALID
    assert check_expiring(keys, token, "participant", subject, now=LATER) is Freshness.EXPIRED
    assert check_expiring(keys, token, "approval", subject, now=NOW) is Freshness.NOT_RECOGNISED
    assert check_expiring(keys, token, "participant", uuid4(), now=NOW) is Freshness.NOT_RECOGNISED
    with pytest.raises(ValueError):
        expiring_token(keys, "participant", subject, expires_at=LATER.replace(tzinfo=None))


def test_changing_the_expiry_breaks_the_signature() -> None:
    keys, subject = SigningKeys(NEW), uuid4()
    token = expiring_token(keys, "booking", subject, expires_at=NOW - timedelta(days=1))
    expires, _, signed = token.partition(".")
    assert check_expiring(keys, token, "booking", subject, now=NOW) is Freshness.EXPIRED
    for later in (int(expires) + 1, int(expires) + 86400 * 365, 99_999_999_999):
        assert check_expiring(keys, f"{later}.{signed}", "booking", subject, now=NOW) is Freshness.NOT_RECOGNISED
    for same_number in (f"0{expires}", f"+{expires}", f" {expires}", f"{expires}.0", expires.replace("1", "\u0661")):
        assert check_expiring(keys, f"{same_number}.{signed}", "booking", subject, now=NOW) is Freshness.NOT_RECOGNISED


def test_a_signature_of_a_link_that_does_not_expire_is_no_expiring_token() -> None:
    keys, subject = SigningKeys(NEW), uuid4()
    legacy = keys.sign("booking", subject, 1)  # a version-1 link: its last part is a number
    assert check_expiring(keys, f"1.{legacy}", "booking", subject, now=NOW) is Freshness.NOT_RECOGNISED
    assert check_expiring(keys, legacy, "booking", subject, now=NOW) is Freshness.NOT_RECOGNISED


def test_an_expiring_token_signed_with_a_previous_key_verifies_until_it_expires_or_the_key_goes() -> None:
    subject = uuid4()
    token = expiring_token(SigningKeys(OLD), "confirm", subject, expires_at=LATER)
    rotated = SigningKeys(NEW, previous=(OLD,))
    assert check_expiring(rotated, token, "confirm", subject, now=NOW) is Freshness.VALID
    assert check_expiring(rotated, token, "confirm", subject, now=LATER) is Freshness.EXPIRED
    assert check_expiring(SigningKeys(NEW), token, "confirm", subject, now=NOW) is Freshness.NOT_RECOGNISED
    assert expiring_token(rotated, "confirm", subject, expires_at=LATER) != token  # new links: the current key


@given(token=ANY_TEXT, subject=st.uuids())
def test_any_other_text_is_no_expiring_token_and_never_raises(token: str, subject: UUID) -> None:
    keys = SigningKeys(NEW, previous=(OLD,))
    assert check_expiring(keys, token, "participant", subject, now=NOW) is Freshness.NOT_RECOGNISED


@given(expires=ANY_TEXT | st.integers(min_value=-(10**30), max_value=10**30).map(str))
def test_any_expiry_with_a_real_signature_is_refused_unless_it_is_the_signed_one(expires: str) -> None:
    keys, subject = SigningKeys(NEW), uuid4()
    signed = expiring_token(keys, "participant", subject, expires_at=LATER).partition(".")[2]
    verdict = check_expiring(keys, f"{expires}.{signed}", "participant", subject, now=NOW)
    assert verdict is (Freshness.VALID if expires == str(int(LATER.timestamp())) else Freshness.NOT_RECOGNISED)


def test_huge_and_overflowing_tokens_are_refused_before_any_hmac(monkeypatch: pytest.MonkeyPatch) -> None:
    keys, subject = SigningKeys(NEW), uuid4()
    signed = expiring_token(keys, "x", subject, expires_at=LATER).partition(".")[2]
    computed: list[object] = []
    monkeypatch.setattr(links, "signature", lambda *args: computed.append(args) or "")
    for huge in ("9" * 400 + "." + signed, "1" * 12 + "." + signed, "é" * 1_000_000, "1." + "a" * 10_000, "."):
        assert check_expiring(keys, huge, "x", subject, now=NOW) is Freshness.NOT_RECOGNISED
    assert computed == []
    with pytest.raises(ValueError):
        expiring_token(keys, "x", subject, expires_at=datetime(1960, 1, 1, tzinfo=UTC))


class _Links(LinkSettings):
    model_config = LinkSettings.model_config | {"env_prefix": "TESTLINKS_"}


def test_settings_give_the_signing_keys_and_refuse_short_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESTLINKS_LINK_SECRET", "n" * 32)
    monkeypatch.setenv("TESTLINKS_LINK_SECRETS_PREVIOUS", '["' + "o" * 32 + '", "' + "p" * 40 + '"]')
    keys = _Links().signing_keys()  # type: ignore[call-arg]
    assert keys == SigningKeys(NEW, previous=(OLD, b"p" * 40))
    assert _Links(link_secret="n" * 32).signing_keys() == SigningKeys(NEW, previous=(OLD, b"p" * 40))  # type: ignore[arg-type]
    monkeypatch.delenv("TESTLINKS_LINK_SECRETS_PREVIOUS")
    assert _Links().signing_keys().previous == ()  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="at least 32"):
        _Links(link_secret="short")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="at least 32"):
        _Links(link_secret="n" * 32, link_secrets_previous=["n" * 32, "short"])  # type: ignore[arg-type]
    monkeypatch.delenv("TESTLINKS_LINK_SECRET")
    with pytest.raises(ValidationError, match="link_secret"):
        _Links()  # type: ignore[call-arg]  # no default: each deployment sets its own
