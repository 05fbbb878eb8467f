"""Who may use the operators' API (shared.web.admin): a staff token with the role, or the static
token where it is allowed; the answers (401, 403, 503) and their challenges; the OIDC settings'
own checks; HSTS on https only."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request
from pydantic import ValidationError

from shared.settings import ServiceSettings
from shared.web import HSTS, SecurityHeaders
from shared.web.admin import require_admin, static_token
from shared.web.oidc import JwksCache, OidcConfig, OidcVerifier
from tests.staff_tokens import AUDIENCE, ROLE, TestIssuer

DATABASE_URL = "postgresql://test:not-a-placeholder@localhost/test"
ISSUER = "https://issuer.example.nhs.uk"
ISSUER_KEYS = TestIssuer(ISSUER)


class Settings(ServiceSettings):
    model_config = {**ServiceSettings.model_config, "env_prefix": "DEMO_"}


def settings(**values: Any) -> Settings:
    return Settings(service_name="demo", database_url=DATABASE_URL, http_port=1, **values)


def oidc_settings(**values: Any) -> Settings:
    return settings(**{"oidc_issuer": ISSUER, "oidc_audience": AUDIENCE, "oidc_jwks_url": f"{ISSUER}/jwks", **values})


def request(config: Settings, *, issuer_down: bool = False) -> Request:
    state = SimpleNamespace(settings=config)
    if (oidc := OidcConfig.of(config)) is not None:

        async def fetch(url: str) -> Any:
            if issuer_down:
                raise OSError("down")
            return ISSUER_KEYS.jwks()

        state.oidc_verifier = OidcVerifier(oidc, JwksCache(oidc, fetch))
    return cast(Request, SimpleNamespace(app=SimpleNamespace(state=state)))


async def refusal(config: Settings, authorization: str | None, **options: Any) -> HTTPException:
    with pytest.raises(HTTPException) as refused:
        await require_admin(request(config, **options), authorization=authorization)
    return refused.value


@pytest.mark.parametrize(
    ("values", "allowed"),
    [
        ({}, True),  # no public URL: a developer's machine
        ({"public_base_url": "http://127.0.0.1:8101"}, True),
        ({"public_base_url": "https://360.example.nhs.uk"}, False),
        ({"public_base_url": "HTTPS://360.example.nhs.uk"}, False),
        ({"public_base_url": "https://360.example.nhs.uk", "admin_token_allowed": True}, True),
        ({"public_base_url": "http://127.0.0.1:8101", "admin_token_allowed": False}, False),
    ],
)
def test_the_static_token_is_for_local_use_unless_said_otherwise(values: dict[str, Any], allowed: bool) -> None:
    assert (static_token(settings(admin_token="local-token", **values)) == "local-token") is allowed


async def test_with_nothing_configured_or_allowed_the_api_is_off() -> None:
    off = await refusal(settings(), "Bearer x")
    assert off.status_code == 403 and "DEMO_OIDC_ISSUER" in off.detail
    https_only = await refusal(settings(admin_token="t", public_base_url="https://x.nhs.uk"), "Bearer t")
    assert https_only.status_code == 403 and "DEMO_ADMIN_TOKEN_ALLOWED" in https_only.detail


async def test_a_staff_token_with_the_role_is_accepted_and_the_static_token_still_works_locally() -> None:
    config = oidc_settings(admin_token="local-token")
    await require_admin(request(config), authorization=f"Bearer {ISSUER_KEYS.token()}")
    await require_admin(request(config), authorization="Bearer local-token")
    refused = await refusal(
        oidc_settings(admin_token="local-token", public_base_url="https://x.nhs.uk"), "Bearer local-token"
    )
    assert refused.status_code == 401


async def test_answers_and_challenges(caplog: pytest.LogCaptureFixture) -> None:
    config = oidc_settings()
    caplog.set_level(logging.DEBUG)
    missing = await refusal(config, None)
    assert (missing.status_code, missing.headers) == (401, {"WWW-Authenticate": "Bearer"})
    expired = ISSUER_KEYS.token(exp=1)
    invalid = await refusal(config, f"Bearer {expired}")
    assert (invalid.status_code, invalid.headers) == (401, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    no_role = ISSUER_KEYS.token(roles=["someone-else"], sub="staff-secret-subject")
    forbidden = await refusal(config, f"Bearer {no_role}")
    assert (forbidden.status_code, forbidden.headers["WWW-Authenticate"]) == (403, 'Bearer error="insufficient_scope"')
    unavailable = await refusal(config, f"Bearer {ISSUER_KEYS.token()}", issuer_down=True)
    assert unavailable.status_code == 503
    logged = " ".join(str(record.__dict__) for record in caplog.records)  # messages and extras
    assert expired not in logged and no_role not in logged and "staff-secret-subject" not in logged
    assert "'reason': 'expired'" in logged  # the reason, from a fixed list


async def test_the_role_claim_and_roles_are_configurable() -> None:
    cis2 = oidc_settings(oidc_role_claim="nhsid_nrbac_roles.activity_codes", oidc_roles="B0360,B0999")
    claims = {"nhsid_nrbac_roles": [{"activity_codes": ["B0999"]}], "roles": None}
    await require_admin(request(cis2), authorization=f"Bearer {ISSUER_KEYS.token(**claims)}")
    assert (await refusal(cis2, f"Bearer {ISSUER_KEYS.token()}")).status_code == 403  # `roles` is not read
    assert cis2.oidc_roles == ("B0360", "B0999")
    assert oidc_settings(oidc_roles='["a", "b"]').oidc_roles == ("a", "b")
    assert oidc_settings().oidc_roles == (ROLE,)


@pytest.mark.parametrize(
    "values",
    [
        {"oidc_algorithms": "RS256,HS256"},
        {"oidc_algorithms": "none"},
        {"oidc_algorithms": ""},
        {"oidc_audience": ""},
        {"oidc_roles": ""},
        {"oidc_issuer": "http://issuer.example.nhs.uk"},
        {"oidc_jwks_url": "http://issuer.example.nhs.uk/jwks"},
        {"oidc_role_claim": "roles..x"},
    ],
)
def test_unsafe_or_incomplete_oidc_settings_are_refused(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        oidc_settings(**values)


def test_local_http_issuers_are_allowed_for_tests() -> None:
    local = settings(oidc_issuer="http://127.0.0.1:9999", oidc_audience="a", oidc_algorithms="ES256")
    assert local.oidc_algorithms == ("ES256",)


@pytest.mark.parametrize(("hsts", "expected"), [(True, HSTS), (False, None)])
async def test_hsts_is_sent_on_every_answer_only_when_served_over_https(hsts: bool, expected: str | None) -> None:
    app = FastAPI()
    app.add_middleware(SecurityHeaders, hsts=hsts)

    @app.get("/ok")
    async def ok() -> dict[str, str]:
        return {}

    @app.get("/refused")
    async def refused() -> dict[str, str]:
        raise HTTPException(status_code=401)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for path in ("/ok", "/refused", "/missing"):
            assert (await client.get(path)).headers.get("Strict-Transport-Security") == expected
    assert HSTS == "max-age=31536000; includeSubDomains"


def test_a_service_is_on_https_when_its_public_url_is() -> None:
    assert settings(public_base_url="https://360.example.nhs.uk").on_https
    assert not settings(public_base_url="http://127.0.0.1:8101").on_https
    assert not settings().on_https


async def test_with_the_static_token_alone_a_wrong_token_is_an_invalid_token() -> None:
    config = settings(admin_token="local-token")
    for wrong in ("Bearer wrong", "Bearer local-token2", f"Bearer {ISSUER_KEYS.token()}"):
        refused = await refusal(config, wrong)
        assert (refused.status_code, refused.headers) == (401, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    assert (await refusal(config, "Basic local-token")).headers == {"WWW-Authenticate": "Bearer"}
