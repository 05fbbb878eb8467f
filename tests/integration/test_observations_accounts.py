"""Issue 15 item 1 on PostgreSQL: accounts without passwords. A one-time link by email (through the
mail outbox) creates the account or signs in; it is stored hashed, works once and expires; opening
it uses nothing; the limits per client and per mailbox hold; the session cookie is HttpOnly,
SameSite=Strict and scoped to /observations; signing out ends it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from observations import links, usecases
from observations.config import Settings
from shared.links import SigningKeys, token_sha256
from tests.config import StackSettings
from tests.integration.conftest import ServiceUnderTest
from tests.integration.observations_support import (
    LINK_SECRET,
    ask_for_link,
    browser,
    emailed_link,
    fresh_email,
    observations_service,
    signed_up,
)
from tests.integration.test_invitations_support import CaptureHandler, rows
from tests.support import eventually

Running = tuple[ServiceUnderTest, CaptureHandler]


@pytest.fixture(scope="module")
async def running(settings: StackSettings) -> AsyncIterator[Running]:
    async with observations_service(settings) as service:
        yield service


async def test_a_new_address_gets_a_sign_up_link_that_creates_the_account_once(running: Running) -> None:
    service, mail = running
    client = browser(service)
    email = fresh_email()
    await ask_for_link(client, email)
    path = await emailed_link(mail, email, "sign_up")
    token = path.rsplit("/", 1)[1]
    [link] = await rows(
        service, "SELECT token_sha256, email FROM observations.sign_in_link WHERE email = :e", e=email.lower()
    )
    assert link.token_sha256 == token_sha256(token), "only the token's hash is stored"
    assert link.email == email.casefold()

    opened = await client.get(path)
    assert opened.status_code == 200 and "Create your account" in opened.text
    assert await rows(service, "SELECT 1 FROM observations.account WHERE email = :e", e=email.lower()) == []

    refused = await client.post(path, data={"display_name": "", "programme": "x" * 201})
    assert refused.status_code == 400 and "There is a problem" in refused.text
    assert 'href="#display_name"' in refused.text and 'href="#programme"' in refused.text

    created = await client.post(path, data={"display_name": "Sam Jones", "programme": "Mary Seacole"})
    assert created.status_code == 303 and created.headers["location"] == "/observations/entries"
    cookie = created.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/observations" in cookie
    assert "secure" not in cookie, "plain http in tests: Secure is set on https only"
    [account] = await rows(
        service, "SELECT display_name, programme FROM observations.account WHERE email = :e", e=email.lower()
    )
    assert (account.display_name, account.programme) == ("Sam Jones", "Mary Seacole")

    journal = await client.get("/observations/entries")
    assert journal.status_code == 200 and "Sam Jones" in journal.text
    again = await browser(service).post(path, data={"display_name": "Someone else"})
    assert again.status_code == 410 and "already been used" in again.text


async def test_a_known_address_signs_in_and_signs_out(running: Running) -> None:
    service, mail = running
    first, email = await signed_up(service, mail, name="Alex")
    other = browser(service)
    await ask_for_link(other, email.upper())
    path = await emailed_link(mail, email, "sign_in")
    assert "Sign in" in (await other.get(path)).text
    signed_in = await other.post(path)
    assert signed_in.status_code == 303
    assert "Alex" in (await other.get("/observations/entries")).text
    assert (await other.get("/observations")).headers["location"] == "/observations/entries"

    signed_out = await other.post("/observations/sign-out")
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/observations"
    assert (await other.get("/observations/entries")).status_code == 401
    assert (await first.get("/observations/entries")).status_code == 200, "other browsers stay signed in"
    count = await rows(service, "SELECT count(*) AS n FROM observations.account WHERE email = :e", e=email.lower())
    assert count[0].n == 1


async def test_unknown_forged_and_expired_links_let_nobody_in(running: Running) -> None:
    service, mail = running
    client = browser(service)
    assert (await client.get("/observations/sign-in/" + "A" * 43)).status_code == 404
    assert (await client.post("/observations/sign-in/" + "A" * 43, data={"display_name": "X"})).status_code == 404
    assert (await client.get("/observations/sign-in/" + "A" * 500)).status_code == 404
    email = fresh_email()
    await ask_for_link(client, email)
    path = await emailed_link(mail, email, "sign_up")
    async with service.runtime.uow() as uow:
        await uow.session.execute(
            text("UPDATE observations.sign_in_link SET expires_at = now() - interval '1 minute' WHERE email = :e"),
            {"e": email.lower()},
        )
        await uow.commit()
    assert (await client.get(path)).status_code == 410
    assert (await client.post(path, data={"display_name": "Late"})).status_code == 410
    assert await rows(service, "SELECT 1 FROM observations.account WHERE email = :e", e=email.lower()) == []

    forged = links.issue(
        SigningKeys(current=b"k" * 40), uuid.uuid4(), now=datetime.now(UTC), lifetime=timedelta(hours=1)
    )
    client.cookies.set(links.COOKIE, forged, path="/observations")
    assert (await client.get("/observations/entries")).status_code == 401


async def test_bad_addresses_are_refused_with_an_error_summary(running: Running) -> None:
    service, _ = running
    client = browser(service)
    for bad in ("", "not-an-address", "a@b\nBcc: c@d.nhs.uk", "x" * 300 + "@nhs.net"):
        refused = await client.post("/observations/sign-in", data={"email": bad})
        assert refused.status_code == 400 and "There is a problem" in refused.text and 'href="#email"' in refused.text


async def test_limits_per_client_and_per_mailbox(settings: StackSettings) -> None:
    async with observations_service(
        settings, sign_in_requests_per_client_per_hour=4, sign_in_emails_per_mailbox_per_hour=2
    ) as (service, mail):
        client = browser(service)
        email = fresh_email()
        for _ in range(3):
            await ask_for_link(client, email)
        await emailed_link(mail, email, "sign_up", count=2)
        links = await rows(service, "SELECT 1 FROM observations.sign_in_link WHERE email = :e", e=email.lower())
        assert len(links) == 2, "beyond the mailbox's limit nothing more is sent, and the page says the same"
        await ask_for_link(client, fresh_email())
        refused = await client.post("/observations/sign-in", data={"email": fresh_email()})
        assert refused.status_code == 429 and "Too many requests" in refused.text


async def test_an_email_whose_link_expired_is_not_sent_and_old_links_are_forgotten(running: Running) -> None:
    service, _ = running
    keys = Settings(database_url="postgresql+asyncpg://u:pw@h/d", link_secret=LINK_SECRET).signing_keys()
    email = fresh_email().casefold()
    now = datetime.now(UTC)
    async with service.runtime.uow() as uow:
        await usecases.request_sign_in(uow, email=email, keys=keys, now=now - timedelta(days=2), minutes=30)
        await uow.commit()
    given_up = (
        "SELECT e.sent_at, e.last_error FROM observations.outgoing_email e JOIN observations.sign_in_link l "
        "ON l.id = e.link_id WHERE l.email = :e AND e.gave_up_at IS NOT NULL"
    )
    [email_row] = await eventually(lambda: rows(service, given_up, e=email), what="the expired link's email given up")
    assert email_row.sent_at is None and email_row.last_error == "not sent: link used or expired"
    async with service.runtime.uow() as uow:
        assert await usecases.forget_old_links(uow, now=now) >= 1
        await uow.commit()
    assert await rows(service, "SELECT 1 FROM observations.sign_in_link WHERE email = :e", e=email) == []


async def test_two_sign_up_links_to_one_mailbox_make_one_account(running: Running) -> None:
    service, mail = running
    email = fresh_email()
    first, second = browser(service), browser(service)
    await ask_for_link(first, email)
    await ask_for_link(second, email)
    one = await emailed_link(mail, email, "sign_up", count=1)
    other = await emailed_link(mail, email, "sign_up", count=2)
    assert (await first.post(one, data={"display_name": "First"})).status_code == 303
    assert (await second.post(other, data={"display_name": "Second"})).status_code == 303
    [account] = await rows(service, "SELECT display_name FROM observations.account WHERE email = :e", e=email.lower())
    assert account.display_name == "First", "the later link signs in to the account the first one made"
    assert "First" in (await second.get("/observations/entries")).text
