"""Staff access tokens (shared.web.oidc): signature, algorithm, issuer, audience, expiry and role
checks, and the key cache (rotation, TTL, rate-limited refetch, issuer down), on a fake fetch."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.web.oidc import (
    MAX_DOCUMENT_BYTES,
    InvalidToken,
    JwksCache,
    KeysUnavailable,
    OidcConfig,
    OidcVerifier,
    http_fetcher,
    key_fits,
    roles_in,
    signing_keys,
    subject_hash,
)
from tests.staff_tokens import AUDIENCE, TestIssuer

ISSUER = "https://issuer.example.nhs.uk"
JWKS_URL = "https://issuer.example.nhs.uk/jwks"
ISSUER_KEYS = TestIssuer(ISSUER)


class FakeIssuerEndpoints:
    """Serves the issuer's documents to JwksCache, counting fetches; `down` makes every fetch fail."""

    def __init__(self, issuer: TestIssuer) -> None:
        self.issuer = issuer
        self.fetched: list[str] = []
        self.down = False
        self.discovery_issuer = issuer.issuer

    async def __call__(self, url: str) -> Any:
        self.fetched.append(url)
        await asyncio.sleep(0)
        if self.down:
            raise OSError("connection refused")
        if url.endswith("/.well-known/openid-configuration"):
            return {**self.issuer.discovery(JWKS_URL), "issuer": self.discovery_issuer}
        assert url == JWKS_URL
        return self.issuer.jwks()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def config(**overrides: Any) -> OidcConfig:
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "jwks_url": JWKS_URL,
        "algorithms": ("RS256", "ES256"),
        "leeway_seconds": 30.0,
        "max_token_bytes": 4096,
        "cache_seconds": 3600.0,
        "refetch_seconds": 60.0,
        "timeout_seconds": 1.0,
    }
    values.update(overrides)
    return OidcConfig(**values)


def verifier(issuer: TestIssuer = ISSUER_KEYS, **overrides: Any) -> tuple[OidcVerifier, FakeIssuerEndpoints, Clock]:
    endpoints, clock = FakeIssuerEndpoints(issuer), Clock()
    settings = config(**overrides)
    return OidcVerifier(settings, JwksCache(settings, endpoints, clock)), endpoints, clock


async def reason(token: str, check: OidcVerifier | None = None) -> str:
    with pytest.raises(InvalidToken) as refused:
        await (check or verifier()[0]).verify(token)
    return refused.value.reason


@pytest.mark.parametrize("kid", ["rsa-1", "ec-1"])
async def test_a_valid_token_of_either_key_type_gives_its_claims(kid: str) -> None:
    claims = await verifier()[0].verify(ISSUER_KEYS.token(kid, sub="staff-1"))
    assert claims["sub"] == "staff-1"
    assert claims["aud"] == AUDIENCE


async def test_expiry_is_checked_with_the_leeway() -> None:
    now = int(time.time())
    assert await reason(ISSUER_KEYS.token(exp=now - 60)) == "expired"
    assert (await verifier()[0].verify(ISSUER_KEYS.token(exp=now - 10)))["exp"] == now - 10  # within 30 s
    assert await reason(ISSUER_KEYS.token(nbf=now + 120)) == "not_yet_valid"
    assert await reason(ISSUER_KEYS.token(iat=now + 120)) == "not_yet_valid"


async def test_issuer_and_audience_must_be_the_configured_ones() -> None:
    assert await reason(ISSUER_KEYS.token(aud="another-client")) == "audience"
    assert await reason(ISSUER_KEYS.token(aud=["another-client", "and-another"])) == "audience"
    assert await reason(ISSUER_KEYS.token(iss="https://elsewhere.example")) == "issuer"
    # one of several audiences is enough (OIDC)
    assert await verifier()[0].verify(ISSUER_KEYS.token(aud=["another-client", AUDIENCE]))


@pytest.mark.parametrize("claim", ["exp", "iss", "aud", "sub"])
async def test_a_token_without_a_required_claim_is_refused(claim: str) -> None:
    assert await reason(ISSUER_KEYS.token(**{claim: None})) in ("missing_claim", "audience", "issuer")


async def test_unsigned_and_hmac_with_the_public_key_are_refused_before_any_key_is_used() -> None:
    check, endpoints, _ = verifier()
    assert await reason(ISSUER_KEYS.unsigned(), check) == "algorithm"
    assert await reason(ISSUER_KEYS.hmac_with_public_key(), check) == "algorithm"
    assert endpoints.fetched == []  # refused on the header alone


async def test_the_algorithm_must_fit_the_key_it_names() -> None:
    issuer = TestIssuer(ISSUER)
    # an EC token claiming the RSA key's kid, and an RSA token claiming the EC key's kid
    ec_private, _ = issuer.keys["ec-1"]
    rsa_private, _ = issuer.keys["rsa-1"]
    es_on_rsa = jwt.encode(issuer.claims(), ec_private, algorithm="ES256", headers={"kid": "rsa-1"})
    rs_on_ec = jwt.encode(issuer.claims(), rsa_private, algorithm="RS256", headers={"kid": "ec-1"})
    check = verifier(issuer)[0]
    assert await reason(es_on_rsa, check) == "algorithm"
    assert await reason(rs_on_ec, check) == "algorithm"
    # an allowed algorithm other than the key's own `alg`
    rs384 = jwt.encode(issuer.claims(), rsa_private, algorithm="RS384", headers={"kid": "rsa-1"})
    assert await reason(rs384, verifier(issuer, algorithms=("RS256", "RS384"))[0]) == "algorithm"
    # an algorithm the service does not allow, even with a fitting key
    assert await reason(issuer.token("ec-1"), verifier(issuer, algorithms=("RS256",))[0]) == "algorithm"


def test_key_fits_checks_type_curve_and_declared_algorithm() -> None:
    rsa = {"kty": "RSA"}
    p256, p384 = {"kty": "EC", "crv": "P-256"}, {"kty": "EC", "crv": "P-384"}
    assert key_fits("RS256", rsa) and key_fits("PS512", rsa) and key_fits("ES256", p256)
    assert not key_fits("ES256", rsa) and not key_fits("RS256", p256) and not key_fits("ES256", p384)
    assert key_fits("ES384", p384) and not key_fits("RS256", {"kty": "RSA", "alg": "RS512"})
    assert key_fits("EdDSA", {"kty": "OKP", "crv": "Ed25519"}) and not key_fits("EdDSA", {"kty": "OKP", "crv": "X"})
    assert not key_fits("HS256", {"kty": "oct"}) and not key_fits("none", rsa)


async def test_a_tampered_token_fails_its_signature() -> None:
    header, _, signature = ISSUER_KEYS.token().split(".")
    other = ISSUER_KEYS.token(sub="someone-else").split(".")[1]
    assert await reason(f"{header}.{other}.{signature}") == "signature"


async def test_a_token_from_a_key_the_issuer_never_published_is_refused() -> None:
    issuer = TestIssuer(ISSUER)
    issuer.add_key("stranger", "RS256", publish=False)
    check, endpoints, _ = verifier(issuer)
    assert await reason(issuer.token("stranger"), check) == "unknown_key"
    assert endpoints.fetched == [JWKS_URL]  # the first look fetched; the unknown kid may not refetch yet


async def test_size_and_garbage_are_refused_without_fetching() -> None:
    check, endpoints, _ = verifier(max_token_bytes=1024)
    assert await reason(ISSUER_KEYS.token(padding="x" * 2000), check) == "too_large"
    for garbage in ("garbage", "a.b.c", "....", "é.é.é", "\ud800.\udfff.x"):
        assert await reason(garbage, check) == "malformed"
    assert endpoints.fetched == []


@settings(max_examples=200, deadline=None)
@given(token=st.text(st.one_of(st.characters(), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))))
def test_any_text_is_refused_as_a_token_never_an_error(token: str) -> None:
    with pytest.raises(InvalidToken):
        asyncio.run(verifier()[0].verify(token))


async def test_a_rotated_key_is_fetched_once_and_made_up_kids_cannot_hammer_the_issuer() -> None:
    issuer = TestIssuer(ISSUER)
    check, endpoints, clock = verifier(issuer)
    await check.verify(issuer.token("rsa-1"))
    issuer.add_key("rsa-2", "RS256")  # the issuer rotates
    clock.now += 61
    await check.verify(issuer.token("rsa-2"))
    assert len(endpoints.fetched) == 2
    for number in range(50):  # a flood of made-up kids within the refetch gap
        assert await reason(_with_kid(issuer, f"x{number}"), check) == "unknown_key"
    assert len(endpoints.fetched) == 2
    clock.now += 61
    assert await reason(_with_kid(issuer, "still-unknown"), check) == "unknown_key"
    assert len(endpoints.fetched) == 3


def _with_kid(issuer: TestIssuer, kid: str) -> str:
    return jwt.encode(issuer.claims(), issuer.keys["rsa-1"][0], algorithm="RS256", headers={"kid": kid})


async def test_concurrent_unknown_kids_share_one_fetch() -> None:
    issuer = TestIssuer(ISSUER)
    check, endpoints, _ = verifier(issuer)
    await check.verify(issuer.token())
    issuer.add_key("rsa-2", "RS256")
    tokens = [issuer.token("rsa-2") for _ in range(20)]
    check.cache._attempted_at = -1e9  # the gap has passed
    results = await asyncio.gather(*(check.verify(t) for t in tokens))
    assert len(results) == 20
    assert len(endpoints.fetched) == 2


async def test_keys_are_refetched_after_the_cache_time_and_kept_when_the_issuer_is_down() -> None:
    check, endpoints, clock = verifier(cache_seconds=600)
    await check.verify(ISSUER_KEYS.token())
    clock.now += 599
    await check.verify(ISSUER_KEYS.token())
    assert len(endpoints.fetched) == 1
    clock.now += 2
    endpoints.down = True
    await check.verify(ISSUER_KEYS.token())  # the fetch failed: the keys already known still serve
    assert len(endpoints.fetched) == 2
    endpoints.down = False
    clock.now += 61
    await check.verify(ISSUER_KEYS.token())
    assert len(endpoints.fetched) == 3


async def test_no_keys_at_all_is_unavailable_and_retried_after_a_short_gap() -> None:
    check, endpoints, clock = verifier()
    endpoints.down = True
    with pytest.raises(KeysUnavailable):
        await check.verify(ISSUER_KEYS.token())
    with pytest.raises(KeysUnavailable):
        await check.verify(ISSUER_KEYS.token())
    assert len(endpoints.fetched) == 1
    endpoints.down = False
    clock.now += 5
    assert await check.verify(ISSUER_KEYS.token())


async def test_keys_are_found_through_discovery_when_no_jwks_url_is_set() -> None:
    check, endpoints, _ = verifier(jwks_url="")
    await check.verify(ISSUER_KEYS.token())
    assert endpoints.fetched == [f"{ISSUER}/.well-known/openid-configuration", JWKS_URL]
    await check.verify(ISSUER_KEYS.token())
    assert len(endpoints.fetched) == 2


async def test_a_discovery_document_of_another_issuer_gives_no_keys() -> None:
    check, endpoints, _ = verifier(jwks_url="")
    endpoints.discovery_issuer = "https://evil.example"
    with pytest.raises(KeysUnavailable):
        await check.verify(ISSUER_KEYS.token())


def test_signing_keys_leave_out_encryption_keys_and_refuse_other_documents() -> None:
    keys = signing_keys({"keys": [{"kty": "RSA", "kid": "a"}, {"kty": "RSA", "kid": "b", "use": "enc"}, "junk"]})
    assert list(keys) == ["a"]
    for document in ({}, {"keys": "x"}, [], "keys"):
        with pytest.raises(ValueError):
            signing_keys(document)
    assert MAX_DOCUMENT_BYTES >= 64 * 1024


async def test_a_token_without_a_kid_uses_the_only_key() -> None:
    issuer = TestIssuer(ISSUER)
    issuer.published = ["rsa-1"]
    token = jwt.encode(issuer.claims(), issuer.keys["rsa-1"][0], algorithm="RS256")
    assert await verifier(issuer)[0].verify(token)
    issuer.published = ["rsa-1", "ec-1"]
    assert await reason(token, verifier(issuer)[0]) == "unknown_key"


CIS2_CLAIMS = {
    "nhsid_nrbac_roles": [
        {"org_code": "X1", "role_code": "S0080:G0450:R5080", "activity_codes": ["B0360", "B0264"]},
        {"org_code": "X2", "role_code": "S8000:G8000:R8001", "activity_codes": "B1234"},
        "junk",
    ]
}


@pytest.mark.parametrize(
    ("claims", "path", "expected"),
    [
        ({"roles": ["a", "b", 3, None]}, "roles", {"a", "b"}),
        ({"roles": "a"}, "roles", {"a"}),
        ({"realm_access": {"roles": ["a"]}}, "realm_access.roles", {"a"}),
        (CIS2_CLAIMS, "nhsid_nrbac_roles.activity_codes", {"B0360", "B0264", "B1234"}),
        (CIS2_CLAIMS, "nhsid_nrbac_roles.role_code", {"S0080:G0450:R5080", "S8000:G8000:R8001"}),
        ({"roles": {"a": True}}, "roles", set()),
        ({}, "roles", set()),
        ({"roles": ["a"]}, "roles.deeper", set()),
    ],
)
def test_roles_are_read_along_a_dotted_path(claims: dict[str, Any], path: str, expected: set[str]) -> None:
    assert roles_in(claims, path) == expected


def test_the_subject_hash_is_short_stable_and_not_the_subject() -> None:
    tag = subject_hash({"sub": "staff-123"})
    assert tag == subject_hash({"sub": "staff-123"}) != subject_hash({"sub": "staff-124"})
    assert "staff" not in tag and len(tag) == 12


async def test_a_key_carried_in_the_token_itself_is_never_used() -> None:
    attacker = TestIssuer(ISSUER)
    private, _ = attacker.keys["rsa-1"]
    embedded = attacker.jwks()["keys"][0]
    for header in ({"kid": "rsa-1", "jwk": embedded}, {"kid": "attacker", "jku": "https://evil.example/jwks"}):
        token = jwt.encode(attacker.claims(), private, algorithm="RS256", headers=header)
        assert await reason(token) in ("signature", "unknown_key")


async def test_the_http_fetcher_takes_only_small_json_answers_without_redirects() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return {
            "/ok": httpx.Response(200, json={"keys": []}),
            "/moved": httpx.Response(302, headers={"Location": "https://evil.example/jwks"}),
            "/huge": httpx.Response(200, content=b" " * (MAX_DOCUMENT_BYTES + 1)),
        }.get(request.url.path, httpx.Response(404))

    fetch = http_fetcher(1.0, transport=httpx.MockTransport(answer))
    assert await fetch("https://issuer.example/ok") == {"keys": []}
    with pytest.raises(httpx.HTTPStatusError):
        await fetch("https://issuer.example/moved")
    with pytest.raises(httpx.HTTPStatusError):
        await fetch("https://issuer.example/missing")
    with pytest.raises(ValueError, match="too large"):
        await fetch("https://issuer.example/huge")


async def test_a_discovery_document_pointing_to_plain_http_keys_gives_no_keys() -> None:
    check, endpoints, _ = verifier(jwks_url="")
    endpoints.issuer = TestIssuer(ISSUER)
    original = endpoints.issuer.discovery
    endpoints.issuer.discovery = lambda jwks_uri: {
        **original(jwks_uri),
        "jwks_uri": "http://issuer.example.nhs.uk/jwks",
    }  # type: ignore[method-assign]
    with pytest.raises(KeysUnavailable):
        await check.verify(endpoints.issuer.token())
    assert endpoints.fetched == [f"{ISSUER}/.well-known/openid-configuration"]
