"""The operators' web console in real Chromium against the running console (services.sh starts it
on 8105 with the operators' settings): signing in with the keyboard, a wrong token, the overview, and a
dead letter found, read and discarded.
axe-core finds no WCAG 2.2 A/AA violation; screenshots are saved."""

from __future__ import annotations

import os

from playwright.async_api import Page, expect

from tests.browser.conftest import assert_accessible, snapshot
from tests.config import StackSettings

CONSOLE = "http://127.0.0.1:8105"


async def test_an_operator_signs_in_and_sees_the_pipeline(page: Page, settings: StackSettings) -> None:
    await page.goto(f"{CONSOLE}/console/")
    await expect(page).to_have_url(f"{CONSOLE}/console/sign-in")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to the operator console")
    await assert_accessible(page)
    await snapshot(page, "console-sign-in")

    await page.get_by_label("Access token").fill("not the token")
    await page.get_by_role("button", name="Sign in").focus()
    await page.keyboard.press("Enter")
    summary = page.locator(".nhsuk-error-summary")
    await expect(summary).to_contain_text("Enter a valid access token")
    await assert_accessible(page)
    await snapshot(page, "console-sign-in-error")

    await page.get_by_label("Access token").fill(os.environ["CONSOLE_ADMIN_TOKEN"])
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("hlm360 operations")
    await expect(page.get_by_role("heading", name="Pipeline")).to_be_visible()
    await expect(page.get_by_role("heading", name="Consumer lag")).to_be_visible()
    await expect(page.get_by_role("heading", name="Service instances")).to_be_visible()
    await assert_accessible(page)
    await snapshot(page, "console-overview")

    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(f"{CONSOLE}/console/sign-in")


async def test_an_operator_finds_inspects_and_discards_a_dead_letter(page: Page, settings: StackSettings) -> None:
    """Another NHS system sends a request for an unknown programme credit account: invitations
    dead-letters it, and the operator finds it on the console, reads it and discards it."""
    from uuid import uuid4

    from aiokafka import AIOKafkaProducer

    from deploy.demo.journey import build_request
    from shared.contracts.events import Funding
    from shared.contracts.topics import topic_for
    from shared.contracts.vocabulary import FundingMethod
    from tests.config import kafka_options

    reference = f"BROWSER-{uuid4().hex[:8].upper()}"
    request = build_request(cycle_id=uuid4(), facilitator_id=None, tag=uuid4().hex[:8])
    request = request.model_copy(
        update={"funding": Funding(method=FundingMethod.PROGRAMME_CREDIT, reference=reference)}
    )
    producer = AIOKafkaProducer(**kafka_options(settings.hlm360_kafka_bootstrap_servers, principal="external"))
    await producer.start()
    try:
        await producer.send_and_wait(topic_for(request), request.model_dump_json().encode(), key=request.kafka_key())
    finally:
        await producer.stop()

    await page.goto(f"{CONSOLE}/console/sign-in")
    await page.get_by_label("Access token").fill(os.environ["CONSOLE_ADMIN_TOKEN"])
    await page.keyboard.press("Enter")
    await page.get_by_role("link", name="Dead letters").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dead letters")
    await page.get_by_label("Consumer or service").fill("invitations.open-cycle")
    await page.get_by_label("Reason contains").fill("credit account")
    await page.get_by_label("Newer than").fill("10m")
    for _ in range(60):  # invitations dead-letters it within seconds
        await page.get_by_role("button", name="Show dead letters").click()
        if await page.get_by_role("link", name="hlm360.dead-letter.v1:").count():
            break
        await page.wait_for_timeout(500)
    await assert_accessible(page)
    await snapshot(page, "console-dead-letters")

    links = page.locator('a[href^="/console/dead-letters/hlm360.dead-letter.v1:"]')
    hrefs: list[str] = await links.evaluate_all("(links) => links.map((a) => a.getAttribute('href'))")
    for href in reversed(hrefs):  # other tests' dead letters may match too: ours holds its reference
        await page.goto(f"{CONSOLE}{href}")
        if reference in await page.locator("pre").inner_text():
            break
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Dead letter hlm360.dead-letter.v1:")
    await expect(page.locator("pre")).to_contain_text(reference)
    await assert_accessible(page)
    await snapshot(page, "console-dead-letter")

    await page.get_by_role("button", name="Discard it").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Discard 1 dead letter?")
    await assert_accessible(page)
    await page.get_by_role("button", name="Yes, discard 1").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("1 dead letter discarded")
    await assert_accessible(page)
