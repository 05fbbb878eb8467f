"""The participant's pages in real Chromium with axe-core: starting a 360 (with errors), the
private dashboard (with a deadline error), closing early and nominating a replacement; and the
line manager's approval page (on a web-only instance with approval switched on)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import uvicorn
from playwright.async_api import Page, expect

from deploy.demo.intake import api_body, ask_over_http
from deploy.demo.journey import build_request
from deploy.demo.mailbox import link_to, poll
from invitations.links import purpose_token
from shared.contracts.events import RaterDeclined
from shared.contracts.vocabulary import RaterGroup
from shared.links import SigningKeys
from tests.browser.conftest import assert_accessible, snapshot
from tests.config import ENV_FILE, StackSettings
from tests.integration.conftest import running_service
from tests.integration.test_invitations_support import publish
from tests.support import eventually


def link_secret() -> str:
    for line in ENV_FILE.read_text().splitlines():
        if line.startswith("INVITATIONS_LINK_SECRET="):
            return line.split("=", 1)[1].strip()
    raise AssertionError("INVITATIONS_LINK_SECRET is not in .local/env")


DASHBOARD_LINK = re.compile(r"(https?://\S+/p/(?P<cycle>[0-9a-f-]{36})/[A-Za-z0-9_.\-]+)")


async def test_start_page_shows_every_error_linked_to_its_field_and_keeps_what_was_typed(
    page: Page, settings: StackSettings
) -> None:
    await page.goto(f"{settings.invitations_url}/start")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Start your Healthcare Leadership Model 360")
    await assert_accessible(page)
    await snapshot(page, "invitations-start")

    await page.get_by_label("First name").fill("Amara")
    await page.get_by_label("Email address", exact=True).fill("amara@example")
    await page.get_by_label("Peer 1: name").fill("Sam Patel")
    await page.get_by_label("Peer 1: email address").fill("sam.patel@example.nhs.uk")
    await page.get_by_label("Peer 2: name").fill("Sam Again")
    await page.get_by_label("Peer 2: email address").fill("SAM.PATEL@example.nhs.uk")
    language = page.get_by_label("Preferred language for your feedback session")
    await expect(language).to_have_value("en")
    await language.select_option(label="Welsh")
    await page.get_by_label("Your line manager's manager (work email)").fill("director@")
    await page.get_by_role("button", name="Start my 360").focus()
    await page.keyboard.press("Enter")

    summary = page.locator(".nhsuk-error-summary")
    await expect(summary).to_be_visible()
    await expect(page).to_have_title(re.compile(r"^Error: Start your 360 "))
    duplicate = "Peer 2 is nominated more than once (same email address as Peer 1, ignoring case and any +tag)"
    senior = "Enter your line manager's manager's work email address"
    for message in (
        "Enter your last name",
        "Enter your email address",
        "Select your NHS region",
        duplicate,
        senior,
        "Select how your 360 is paid for",
    ):
        await expect(summary).to_contain_text(message)
    await expect(page.get_by_label("First name")).to_have_value("Amara")
    await expect(page.get_by_label("Peer 2: name")).to_have_value("Sam Again")
    await expect(page.get_by_label("Preferred language for your feedback session")).to_have_value("cy")
    await expect(page.get_by_label("Your line manager's manager (work email)")).to_have_value("director@")
    await assert_accessible(page)
    await snapshot(page, "invitations-start-errors")

    await summary.get_by_role("link", name=duplicate).focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_label("Peer 2: email address")).to_be_focused()
    await summary.get_by_role("link", name=senior).focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_label("Your line manager's manager (work email)")).to_be_focused()


async def _open_cycle(settings: StackSettings) -> tuple[str, str, str]:
    """A 360 asked for and confirmed as a participant would: its id, the participant's dashboard link
    from their own invitation email, and a peer's address."""
    event = build_request(cycle_id=uuid.uuid4(), facilitator_id=None, tag=uuid.uuid4().hex[:8])
    event = event.model_copy(update={"deadline": datetime.now(UTC) + timedelta(days=10)})
    mail_dir = settings.hlm360_mail_dir
    async with httpx.AsyncClient() as http:
        cycle_id = await ask_over_http(
            http, event, invitations_url=settings.invitations_url, mail_dir=mail_dir, timeout=60
        )

    async def dashboard() -> str | None:
        return link_to(mail_dir, str(event.participant.email), DASHBOARD_LINK, cycle_id)

    link = await poll(dashboard, timeout=60, what="the participant's own invitation")
    return str(cycle_id), link, str(event.raters[2].email)


async def test_an_expired_link_says_so_and_offers_a_new_one(page: Page, settings: StackSettings) -> None:
    cycle_id, _, _ = await _open_cycle(settings)
    past = datetime.now(UTC) - timedelta(minutes=1)
    token = purpose_token(SigningKeys(link_secret().encode()), "participant", uuid.UUID(cycle_id), expires_at=past)
    await page.goto(f"{settings.invitations_url}/p/{cycle_id}/{token}")
    await expect(page.get_by_role("heading", level=1)).to_have_text("This link has expired")
    await assert_accessible(page)
    await page.get_by_role("button", name="Email me a new link").focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    await assert_accessible(page)


async def test_dashboard_deadline_error_close_and_replacement_pages(page: Page, settings: StackSettings) -> None:
    cycle_id, dashboard, _ = await _open_cycle(settings)
    await page.goto(dashboard)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your 360")
    await expect(page.get_by_role("table")).to_contain_text("Direct reports")
    await assert_accessible(page)
    await snapshot(page, "invitations-dashboard")

    await page.get_by_label("Day").fill("31")
    await page.get_by_label("Month").fill("2")
    await page.get_by_role("button", name="Change the deadline").click()
    await expect(page.locator(".nhsuk-error-summary")).to_contain_text("as a real date")
    await expect(page.get_by_label("Day")).to_have_value("31")
    await assert_accessible(page)
    await snapshot(page, "invitations-dashboard-deadline-error")

    await page.get_by_role("link", name="Close your 360 now").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Close your 360 now?")
    await assert_accessible(page)
    await snapshot(page, "invitations-close-confirm")
    await page.get_by_role("link", name="Keep it open").click()

    rater = await _a_rater_id(settings, cycle_id)
    await publish(
        settings,
        RaterDeclined(
            producer="ratings",
            cycle_id=uuid.UUID(cycle_id),
            rater_id=rater,
            group=RaterGroup.PEER,
            reason="Away on secondment",
        ),
    )

    async def shown() -> bool:
        await page.goto(dashboard)
        return await page.get_by_text("Away on secondment").count() > 0

    await eventually(shown, timeout=60, what="the decline on the dashboard")
    await expect(page.get_by_role("heading", name="Needs a replacement")).to_be_visible()
    await assert_accessible(page)
    await page.get_by_role("link", name="Nominate someone instead of").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Nominate someone instead of")
    await assert_accessible(page)
    await page.get_by_label("Their name").fill("Kim Lee")
    await page.get_by_label("Their email address").fill("kim.lee@")
    await page.get_by_role("button", name="Invite them").click()
    await expect(page.locator(".nhsuk-error-summary")).to_contain_text("Enter a valid email address")
    await expect(page.get_by_label("Their email address")).to_have_value("kim.lee@")
    await assert_accessible(page)
    await snapshot(page, "invitations-replace-error")
    await page.get_by_label("Their email address").fill(f"kim.{uuid.uuid4().hex[:8]}@example.nhs.uk")
    await page.get_by_role("button", name="Invite them").click()
    await expect(page.get_by_role("status")).to_contain_text("We have invited the person you nominated")
    await expect(page.get_by_role("heading", name="Needs a replacement")).to_have_count(0)
    await assert_accessible(page)


async def _a_rater_id(settings: StackSettings, cycle_id: str) -> uuid.UUID:
    import asyncpg  # type: ignore[import-untyped]

    url = settings.invitations_database_url.get_secret_value().replace("postgresql+asyncpg", "postgresql")
    connection = await asyncpg.connect(url)
    try:
        row = await connection.fetchrow(
            "SELECT id FROM invitations.rater WHERE cycle_id = $1 AND \"group\" = 'peer' ORDER BY email LIMIT 1",
            uuid.UUID(cycle_id),
        )
    finally:
        await connection.close()
    assert row is not None
    return uuid.UUID(str(row["id"]))


@asynccontextmanager
async def web_only_invitations(settings: StackSettings, **overrides: object) -> AsyncIterator[str]:
    """A web-only invitations instance (no consumers, jobs or outbox relay: nothing reaches the shared
    Kafka topics or the mail sink) on a fresh database, served over real HTTP for the browser."""
    secret = "browser-approval-secret-" + uuid.uuid4().hex
    async with running_service(
        "invitations",
        settings,
        link_secret=secret,
        run_consumers=False,
        run_jobs=False,
        run_outbox_relay=False,
        **overrides,
    ) as service:
        server = uvicorn.Server(
            uvicorn.Config(service.app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
        )
        serving = asyncio.create_task(server.serve())
        try:
            await eventually(lambda: server.started, timeout=10, what="the web-only instance to listen")
            port = server.servers[0].sockets[0].getsockname()[1]
            yield f"http://127.0.0.1:{port}|{secret}"
        finally:
            server.should_exit = True
            await serving


async def test_line_manager_approval_page_with_the_keyboard(page: Page, settings: StackSettings) -> None:
    # a web-only instance sends no email: the participant's confirmation is not what this test is about
    approval_first = {"require_line_manager_approval": True, "confirm_public_requests": False}
    async with web_only_invitations(settings, **approval_first) as served:
        base, secret = served.split("|")
        event = build_request(cycle_id=uuid.uuid4(), facilitator_id=None, tag=uuid.uuid4().hex[:8])
        async with httpx.AsyncClient() as http:
            accepted = await http.post(f"{base}/api/cycles", json=api_body(event))
            assert accepted.status_code == 202, accepted.text
        event = event.model_copy(update={"cycle_id": uuid.UUID(accepted.json()["cycle_id"])})
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        token = purpose_token(SigningKeys(secret.encode()), "approval", event.cycle_id, expires_at=tomorrow)

        await page.goto(f"{base}/approve/{event.cycle_id}/{token}")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Approve the feedback list for Amara Okafor")
        await expect(page.get_by_role("heading", name="Peers")).to_be_visible()
        await assert_accessible(page)
        await snapshot(page, "invitations-approval")

        await page.get_by_role("button", name="Save my decision").focus()
        await page.keyboard.press("Enter")
        summary = page.locator(".nhsuk-error-summary")
        await expect(summary).to_contain_text("Select whether you approve the list")
        await assert_accessible(page)
        await snapshot(page, "invitations-approval-error")
        await summary.get_by_role("link", name="Select whether you approve the list").focus()
        await page.keyboard.press("Enter")
        await expect(page.get_by_label("Yes, invite them")).to_be_focused()

        await page.keyboard.press("Space")
        await page.get_by_role("button", name="Save my decision").focus()
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Decision saved")
        await assert_accessible(page)

        await page.goto(f"{base}/approve/{event.cycle_id}/{token[:-2]}xx")
        await expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")
        await assert_accessible(page)
