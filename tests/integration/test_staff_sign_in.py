"""Staff sign-in on every service's operators' API (shared.web.admin, shared.web.oidc): a made-up
OIDC issuer on 127.0.0.1 serves its discovery document and freshly generated keys over HTTP; each
service, started in-process with that issuer, answers one operator route to every kind of token;
then again with an https public URL, where the static token is refused and HSTS is sent."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.web import HSTS
from tests.config import StackSettings
from tests.integration.conftest import ServiceUnderTest, running_service
from tests.integration.test_invitations_support import fast, post_cycle, request
from tests.staff_tokens import AUDIENCE, TestIssuer

SERVICES = ("invitations", "ratings", "reports", "scheduling")


class IssuerServer:
    """The issuer's two documents over HTTP in a thread, counting what was fetched."""

    def __init__(self) -> None:
        self.fetched: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetched[self.path] += 1
                documents = {
                    "/.well-known/openid-configuration": server.issuer.discovery(f"{server.url}/keys"),
                    "/keys": server.issuer.jwks(),
                }
                body = json.dumps(documents[self.path]).encode() if self.path in documents else b"{}"
                self.send_response(200 if self.path in documents else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.issuer = TestIssuer(self.url)
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def issuer_server() -> Iterator[IssuerServer]:
    server = IssuerServer()
    yield server
    server.close()


def overrides(service: str, server: IssuerServer, tmp_path: Path, **more: object) -> dict[str, object]:
    """The issuer (keys found through its discovery document), plus what each service needs here."""
    values: dict[str, object] = {"oidc_issuer": server.url, "oidc_audience": AUDIENCE}
    # an http address and the default for the static token (the local stack's env is https behind its
    # front door and keeps the static tokens on: ADR 24)
    values |= {"public_base_url": f"http://127.0.0.1:{8101 + SERVICES.index(service)}", "admin_token_allowed": None}
    if service == "invitations":
        values |= fast()
    if service in ("reports", "scheduling"):
        values["output_dir"] = tmp_path
    if service == "scheduling":
        values["seed_availability"] = False
    return values | more


async def operator_route(service: str, running: ServiceUnderTest) -> tuple[str, int]:
    """One operator route of the service and what it answers an operator: 200 where a fresh
    database has something to show (a cycle started through invitations' public API, scheduling's
    attention list), else the route's own 404 for an unknown cycle."""
    if service == "invitations":
        event = request()
        event = await post_cycle(running.client, event)
        return f"/api/cycles/{event.cycle_id}", 200
    unknown = uuid.uuid4()
    return {
        "ratings": (f"/api/cycles/{unknown}", 404),
        "reports": (f"/api/cycles/{unknown}/report", 404),
        "scheduling": ("/api/unscheduled", 200),
    }[service]


def forged_tokens(server: IssuerServer) -> dict[str, str]:
    issuer = server.issuer
    issuer.add_key("never-published", "RS256", publish=False)
    return {
        "garbage": "not-a-jwt",
        "expired": issuer.token(exp=1_000_000_000),
        "wrong audience": issuer.token(aud="another-application"),
        "wrong issuer": issuer.token(iss="https://another-issuer.example.nhs.uk"),
        "alg none": issuer.unsigned(),
        "HS256 keyed with the public key": issuer.hmac_with_public_key(),
        "unknown key": issuer.token("never-published"),
    }


async def get(client: httpx.AsyncClient, path: str, token: str | None) -> httpx.Response:
    return await client.get(path, headers={"Authorization": f"Bearer {token}"} if token is not None else {})


@pytest.mark.parametrize("service", SERVICES)
async def test_the_operators_api_takes_staff_tokens_from_the_issuer(
    settings: StackSettings, issuer_server: IssuerServer, tmp_path: Path, service: str
) -> None:
    issuer = issuer_server.issuer
    async with running_service(service, settings, **overrides(service, issuer_server, tmp_path)) as running:
        path, expected = await operator_route(service, running)
        client, static = running.client, running.runtime.settings.admin_token
        assert static is not None

        nothing = await client.get(path)
        assert (nothing.status_code, nothing.headers["WWW-Authenticate"]) == (401, "Bearer")
        for case, token in forged_tokens(issuer_server).items():
            refused = await get(client, path, token)
            assert refused.status_code == 401, case
            assert refused.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"', case
            assert token not in refused.text, case
        no_role = await get(client, path, issuer.token(roles=["hlm360-reader"]))
        assert (no_role.status_code, no_role.headers["WWW-Authenticate"]) == (403, 'Bearer error="insufficient_scope"')

        for kid in ("rsa-1", "ec-1"):
            accepted = await get(client, path, issuer.token(kid))
            assert accepted.status_code == expected, (kid, accepted.text)
        local = await get(client, path, static.get_secret_value())  # http: the static token is allowed
        assert local.status_code == expected
        assert "Strict-Transport-Security" not in local.headers

    # the unknown key's token fetched nothing more: one discovery, one key set
    assert issuer_server.fetched == Counter({"/.well-known/openid-configuration": 1, "/keys": 1})


@pytest.mark.parametrize("service", SERVICES)
async def test_on_https_the_static_token_is_refused_hsts_is_sent_and_rotated_keys_are_fetched(
    settings: StackSettings, issuer_server: IssuerServer, tmp_path: Path, service: str
) -> None:
    issuer = issuer_server.issuer
    public = {"public_base_url": f"https://{service}.360.example.nhs.uk", "oidc_jwks_refetch_seconds": 0}
    async with running_service(service, settings, **overrides(service, issuer_server, tmp_path, **public)) as running:
        path, expected = await operator_route(service, running)
        static = running.runtime.settings.admin_token
        assert static is not None

        refused = await get(running.client, path, static.get_secret_value())
        assert refused.status_code == 401
        assert refused.headers["Strict-Transport-Security"] == HSTS
        assert (await get(running.client, path, issuer.token())).status_code == expected
        issuer.add_key("rsa-2", "RS256")  # the issuer rotates its keys
        rotated = await get(running.client, path, issuer.token("rsa-2"))
        assert rotated.status_code == expected
        assert rotated.headers["Strict-Transport-Security"] == HSTS
        assert (await running.client.get("/healthz")).headers["Strict-Transport-Security"] == HSTS

    assert issuer_server.fetched["/keys"] == 2
