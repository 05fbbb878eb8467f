"""Helpers of the observations service's integration tests: the service in-process with a mail
capture, a browser of its own per person (its own cookies), and signing up or in by the emailed link."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.config import StackSettings
from tests.integration.conftest import ServiceUnderTest, running_service
from tests.integration.test_invitations_support import CaptureHandler, smtp_capture
from tests.support import eventually

LINK_SECRET = "observations-itest-link-secret-0123456789abcdef"
LINK = re.compile(r"https?://\S+?(/observations/sign-in/[A-Za-z0-9_-]+)")


@asynccontextmanager
async def observations_service(
    stack: StackSettings, **overrides: object
) -> AsyncIterator[tuple[ServiceUnderTest, CaptureHandler]]:
    settings: dict[str, Any] = {
        "link_secret": LINK_SECRET,
        "mail_poll_seconds": 0.1,
        "sign_in_requests_per_client_per_hour": 10_000,
        "sign_in_emails_per_mailbox_per_hour": 10_000,
        "unknown_links_per_client_per_minute": 10_000,
        # the test browser speaks http: a Secure cookie (the stack's https front door) would not come back
        "public_base_url": "http://testserver",
        **overrides,
    }
    async with (
        smtp_capture() as (mail, port),
        running_service("observations", stack, smtp_port=port, **settings) as service,
    ):
        yield service, mail


def browser(service: ServiceUnderTest) -> httpx.AsyncClient:
    """A client with its own cookie jar, as one person's browser."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=service.app), base_url="http://testserver")


def fresh_email() -> str:
    return f"Obs.{uuid.uuid4().hex[:10]}@NHS.net"


async def emailed_link(mail: CaptureHandler, email: str, kind: str, *, count: int = 1) -> str:
    """The path of the `count`-th one-time link emailed to `email` (waits for it)."""
    found = await eventually(lambda: _enough(mail, email, kind, count), timeout=30, what=f"{kind} email number {count}")
    [path] = LINK.findall(found[count - 1].text)
    return path


async def _enough(mail: CaptureHandler, email: str, kind: str, count: int) -> list[Any]:
    found = mail.to(email.lower(), kind)
    return found if len(found) >= count else []


async def ask_for_link(client: httpx.AsyncClient, email: str) -> httpx.Response:
    response = await client.post("/observations/sign-in", data={"email": email})
    assert response.status_code == 200 and "Check your email" in response.text, response.text
    return response


async def signed_up(
    service: ServiceUnderTest, mail: CaptureHandler, *, name: str = "Sam", email: str | None = None
) -> tuple[httpx.AsyncClient, str]:
    """A new account, signed in in a browser of its own: the browser and the account's email."""
    email = email or fresh_email()
    client = browser(service)
    await ask_for_link(client, email)
    path = await emailed_link(mail, email, "sign_up")
    created = await client.post(path, data={"display_name": name, "programme": ""})
    assert created.status_code == 303 and created.headers["location"] == "/observations/entries", created.text
    return client, email


def observation_form(**changes: Any) -> dict[str, Any]:
    """A complete observation as the form posts it (`dimensions` a list of ticked dimensions)."""
    form: dict[str, Any] = {
        "observed_on-day": "3",
        "observed_on-month": "2",
        "observed_on-year": "2026",
        "context": "Morning handover on the ward.",
        "whose": "colleague",
        "dimensions": ["engaging_the_team"],
        "level-engaging_the_team": "strong",
        "what_happened": "They asked the quietest member of the team for their view first.",
        "impact": "Two concerns came up that would otherwise have been missed.",
        "action": "record",
    }
    form.update(changes)
    return form
