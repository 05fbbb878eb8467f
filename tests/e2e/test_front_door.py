"""The local front door (deploy/local/frontdoor.sh): one origin, https://localhost:8443, verified
with the local CA; each public path answered by the service that serves it; the services' health
and metrics, and every other path, not reachable through it; http redirected to https; the console's
sign-in limited per client for every instance at once (docs/adr/0024)."""

from __future__ import annotations

import re
import secrets
import ssl
from uuid import uuid4

import certifi
import httpx
import pytest

from tests.config import StackSettings

# a path of each service's, and what to compare: the front door's answer is the service's own
SAMPLES = {
    "invitations": "/start",
    "ratings": "/r/not-a-real-link",
    "reports": "/report/not-a-real-link",
    "scheduling": f"/book/{uuid4()}/not-a-signature",
    "console": "/console/sign-in",
}


def verified_by_the_local_ca(settings: StackSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(settings.hlm360_local_dir / "frontdoor" / "ca.pem"))


def title(html: str) -> str:
    found = re.search(r"<title>(.*?)</title>", html, re.S)
    return found.group(1).strip() if found else ""


@pytest.fixture
async def front_door(settings: StackSettings) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=settings.hlm360_frontdoor_url, verify=verified_by_the_local_ca(settings))


async def test_each_path_is_answered_by_its_service(settings: StackSettings, front_door: httpx.AsyncClient) -> None:
    direct = {name: getattr(settings, f"{name}_url", None) for name in SAMPLES}
    direct["console"] = "http://127.0.0.1:8105"
    async with front_door, httpx.AsyncClient() as http:
        for service, path in SAMPLES.items():
            through = await front_door.get(path)
            own = await http.get(f"{direct[service]}{path}")
            assert (through.status_code, title(through.text)) == (own.status_code, title(own.text)), service
            assert through.status_code in (200, 404), (service, through.status_code)
            # the services know they are reached over https (X-Forwarded-Proto from the front door)
            assert through.headers.get("strict-transport-security"), service


async def test_nothing_else_is_reachable(settings: StackSettings, front_door: httpx.AsyncClient) -> None:
    async with front_door:
        assert (await front_door.get("/healthz")).text == "ok\n"  # the front door's own
        for path in ("/metrics", "/openapi.json", "/docs", "/ratings/metrics", "/api/sessions", "/.env"):
            assert (await front_door.get(path)).status_code == 404, path
        # the operators' APIs, by service name: past the front door, the service's own sign-in check
        cycle = uuid4()
        assert (await front_door.get(f"/ratings/api/cycles/{cycle}")).status_code == 401
        allowed = await front_door.get(f"/ratings/api/cycles/{cycle}", headers=settings.admin_headers("ratings"))
        assert allowed.status_code == 404  # no such cycle: answered by ratings, signed in


async def test_http_is_redirected_to_https(settings: StackSettings) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.get("http://localhost:8080/start?x=1")
    assert answer.status_code == 301
    assert answer.headers["location"] == f"{settings.hlm360_frontdoor_url}/start?x=1"


async def test_the_certificate_is_the_local_cas_not_a_public_one(settings: StackSettings) -> None:
    # certifi's roots alone (SSL_CERT_FILE, which the stack's env sets, adds the local CA to them)
    async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=certifi.where())) as http:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await http.get(f"{settings.hlm360_frontdoor_url}/start")


async def test_the_console_sign_in_is_limited_per_client_at_the_front_door(settings: StackSettings) -> None:
    # a client address of its own (loopback is 127/8), so the limit it reaches is nobody else's
    client = f"127.{secrets.randbelow(250) + 3}.{secrets.randbelow(250) + 1}.{secrets.randbelow(250) + 1}"
    transport = httpx.AsyncHTTPTransport(local_address=client, verify=verified_by_the_local_ca(settings))
    async with httpx.AsyncClient(base_url=settings.hlm360_frontdoor_url, transport=transport) as http:
        answers = [(await http.post("/console/sign-in", data={"token": "wrong"})).status_code for _ in range(15)]
    assert 429 in answers, answers
    first_refused = answers.index(429)
    assert first_refused >= 5, answers  # the burst a person mistyping a token needs
    assert set(answers[first_refused:]) == {429}, answers
