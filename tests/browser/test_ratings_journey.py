"""The rater's journey and the self-assessment in real Chromium, driven by the keyboard only
(Tab, arrow keys, Space, Enter; no clicks), with axe-core on every page and screenshots of each."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from shared.contracts.events import CycleCloseRequested, CycleOpened, Event, RaterNominated, RaterWithdrawn
from shared.contracts.vocabulary import RaterGroup
from tests.browser.conftest import DESKTOP, assert_accessible, snapshot
from tests.config import StackSettings
from tests.support import eventually, publish_events

FOCUSED = """() => { const e = document.activeElement;
  return {tag: e.tagName, type: e.type || '', name: e.name || '', text: (e.textContent || '').trim(),
          checked: !!e.checked, value: e.value || ''}; }"""


async def new_context(browser: Browser) -> BrowserContext:
    # axe-core is injected as an inline script, which the pages' strict CSP would (rightly) block.
    return await browser.new_context(
        viewport=ViewportSize(width=DESKTOP["width"], height=DESKTOP["height"]), locale="en-GB", bypass_csp=True
    )


@pytest.fixture
async def device(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await new_context(browser)
    yield context
    await context.close()


async def publish(settings: StackSettings, *events: Event) -> None:
    await publish_events(settings.hlm360_kafka_bootstrap_servers, *events)


def opened(cycle_id: UUID, invited: dict[RaterGroup, int]) -> CycleOpened:
    return CycleOpened(
        producer="browser-test",
        cycle_id=cycle_id,
        participant_id="ESR-1",
        participant_name="Amara Okafor",
        organisation="Example NHS Trust",
        region="London",
        deadline=datetime.now(UTC) + timedelta(days=7),
        invited_per_group=invited,
    )


def nominated(cycle_id: UUID, group: RaterGroup) -> tuple[RaterNominated, str]:
    token = secrets.token_urlsafe(32)
    event = RaterNominated(
        producer="browser-test",
        cycle_id=cycle_id,
        rater_id=uuid4(),
        group=group,
        link_token_sha256=hashlib.sha256(token.encode()).hexdigest(),
    )
    return event, token


async def wait_for_status(url: str, status: int) -> None:
    async with httpx.AsyncClient() as http:

        async def probe() -> bool:
            return (await http.get(url)).status_code == status

        await eventually(probe, timeout=60, what=f"{url} answers {status}")


async def rater_links(settings: StackSettings, *groups: RaterGroup) -> tuple[UUID, list[tuple[RaterNominated, str]]]:
    cycle_id = uuid4()
    raters = [nominated(cycle_id, group) for group in groups]
    invited = {group: groups.count(group) + 1 for group in set(groups)}
    await publish(settings, opened(cycle_id, invited), *(event for event, _ in raters))
    for _, token in raters:
        await wait_for_status(f"{settings.ratings_url}/r/{token}", 200)
    return cycle_id, raters


async def check(page: Page, name: str) -> None:
    await assert_accessible(page)
    await snapshot(page, f"ratings-{name}")


async def tab_to(page: Page, text: str, *, limit: int = 60) -> None:
    """Press Tab until the focused element's text is `text`."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if (await page.evaluate(FOCUSED))["text"].startswith(text):
            return
    raise AssertionError(f"could not reach {text!r} with the Tab key on {page.url}")


async def activate(page: Page, text: str) -> None:
    await tab_to(page, text)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")


async def answer_with_keyboard(page: Page, *, steps_down: int, comment: str | None = None) -> dict[str, str]:
    """Tab through the page: in each new radio group move down `steps_down` options and press Space;
    type into text areas; press Enter on the page's button. Returns the answers given."""
    answers: dict[str, str] = {}
    for _ in range(200):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(FOCUSED)
        if focused["type"] == "radio" and focused["name"] not in answers:
            for _ in range(steps_down):
                await page.keyboard.press("ArrowDown")
            await page.keyboard.press("Space")
            answers[focused["name"]] = (await page.evaluate(FOCUSED))["value"]
        elif focused["tag"] == "TEXTAREA" and comment:
            await page.keyboard.type(comment)
            answers[focused["name"]] = comment
        elif focused["tag"] == "BUTTON":
            async with page.expect_navigation():
                await page.keyboard.press("Enter")
            return answers
    raise AssertionError(f"no button reached on {page.url}")


async def assert_checked(page: Page, answers: dict[str, str]) -> None:
    for name, value in answers.items():
        if name.startswith("comment:"):
            await expect(page.locator(f'textarea[name="{name}"]')).to_have_value(value)
        else:
            await expect(page.locator(f'input[name="{name}"][value="{value}"]')).to_be_checked()


async def test_a_rater_answers_all_nine_pages_with_the_keyboard_leaves_resumes_checks_and_sends(
    browser: Browser, device: BrowserContext, settings: StackSettings
) -> None:
    _, [(_, token)] = await rater_links(settings, RaterGroup.PEER)
    link = f"{settings.ratings_url}/r/{token}"
    page = await device.new_page()
    await page.goto(link)
    await expect(page.locator("h1")).to_have_text("Give feedback on Amara Okafor")
    await expect(page.locator("main")).to_contain_text("as a peer")
    await check(page, "start")
    await activate(page, "Start now")

    # pressing the button with nothing chosen: the error summary links to each question
    await tab_to(page, "Save and continue")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    await expect(page.locator(".nhsuk-error-summary")).to_contain_text("There is a problem")
    await expect(page).to_have_title(re.compile("^Error: "))
    await check(page, "section-error")

    given: dict[int, dict[str, str]] = {}
    for number in range(1, 5):
        await expect(page.locator(".nhsuk-caption-l")).to_contain_text(f"Section {number} of 9")
        if number > 1:
            await check(page, f"section-{number}")
        given[number] = await answer_with_keyboard(page, steps_down=number % 3, comment="Calm & clear <always>")
        assert len(given[number]) == 4 + 1 + 1

    # leave, and carry on from another device with the same link
    await device.close()
    other_device = await new_context(browser)
    try:
        page = await other_device.new_page()
        await page.goto(link)
        await expect(page.locator("main")).to_contain_text("Continue where you left off")
        await check(page, "resume")
        await activate(page, "Continue where you left off")
        await expect(page.locator(".nhsuk-caption-l")).to_contain_text("Section 5 of 9")
        # back keeps the answers given on the other device
        await activate(page, "Back")
        await expect(page.locator(".nhsuk-caption-l")).to_contain_text("Section 4 of 9")
        await assert_checked(page, given[4])
        await activate(page, "Save and continue")
        for number in range(5, 10):
            await expect(page.locator(".nhsuk-caption-l")).to_contain_text(f"Section {number} of 9")
            await check(page, f"section-{number}")
            given[number] = await answer_with_keyboard(page, steps_down=1)
        await expect(page.locator("h1")).to_contain_text("Overall comments")
        await check(page, "comments")
        await answer_with_keyboard(page, steps_down=0, comment="Brings people together across wards.")

        await expect(page.locator("h1")).to_have_text("Check your answers before sending them")
        await expect(page.locator("main")).not_to_contain_text("Not answered")
        await expect(page.locator("main")).to_contain_text("Calm & clear <always>")
        await check(page, "check")
        # change an answer from the check page and come straight back
        await activate(page, "Change answers for Leading with care")
        await expect(page.locator(".nhsuk-caption-l")).to_contain_text("Section 2 of 9")
        await assert_checked(page, given[2])
        await activate(page, "Save and check your answers")
        await activate(page, "Send my feedback")

        await expect(page.locator("h1")).to_have_text("Thank you, your feedback has been sent")
        await check(page, "done")
        await page.goto(link)
        await expect(page.locator("h1")).to_have_text("You have already given feedback, thank you")
        await check(page, "already-submitted")
        await page.goto(f"{link}/check")
        await expect(page.locator("main")).not_to_contain_text("Calm & clear")
    finally:
        await other_device.close()


async def test_a_rater_declines_with_a_reason_using_the_keyboard(
    device: BrowserContext, settings: StackSettings
) -> None:
    _, [(_, token)] = await rater_links(settings, RaterGroup.DIRECT_REPORT)
    page = await device.new_page()
    await page.goto(f"{settings.ratings_url}/r/{token}")
    await activate(page, "decline to give feedback on Amara Okafor")
    await expect(page.locator("h1")).to_have_text("Decline to give feedback on Amara Okafor")
    await check(page, "decline")
    for _ in range(10):
        if (await page.evaluate(FOCUSED))["tag"] == "TEXTAREA":
            break
        await page.keyboard.press("Tab")
    await page.keyboard.type("I joined the team last week.")
    await activate(page, "Decline to give feedback")
    await expect(page.locator("h1")).to_have_text("You have declined to give feedback")
    await check(page, "declined")


async def test_each_bad_link_gets_a_clear_page(device: BrowserContext, settings: StackSettings) -> None:
    cycle_id, [(withdrawn, withdrawn_token), (_, closed_token)] = await rater_links(
        settings, RaterGroup.PEER, RaterGroup.OTHER
    )
    page = await device.new_page()

    response = await page.goto(f"{settings.ratings_url}/r/{secrets.token_urlsafe(32)}")
    assert response is not None and response.status == 404
    await expect(page.locator("h1")).to_have_text("Link not recognised")
    await check(page, "unknown-link")

    await publish(
        settings,
        RaterWithdrawn(
            producer="browser-test",
            cycle_id=cycle_id,
            rater_id=withdrawn.rater_id,
            group=RaterGroup.PEER,
            reason="bounced",
        ),
    )
    await wait_for_status(f"{settings.ratings_url}/r/{withdrawn_token}", 410)
    await page.goto(f"{settings.ratings_url}/r/{withdrawn_token}")
    await expect(page.locator("h1")).to_have_text("This feedback link is no longer active")
    await check(page, "withdrawn-link")

    await publish(settings, CycleCloseRequested(producer="browser-test", cycle_id=cycle_id, requested_by="admin"))

    async def closed() -> bool:
        async with httpx.AsyncClient() as http:
            return "has closed" in (await http.get(f"{settings.ratings_url}/r/{closed_token}")).text

    await eventually(closed, timeout=60, what="cycle closed")
    await page.goto(f"{settings.ratings_url}/r/{closed_token}/3")
    await expect(page.locator("h1")).to_have_text("This questionnaire has closed")
    await check(page, "closed-link")

    # guessing: after too many unknown links from one address, a 429 page (this runs last: it lasts a minute)
    status = 0
    for _ in range(100):
        result = await device.request.get(f"{settings.ratings_url}/r/{secrets.token_urlsafe(32)}")
        status = result.status
        if status == 429:
            break
    assert status == 429
    response = await page.goto(f"{settings.ratings_url}/r/guessed-{secrets.token_hex(8)}")
    assert response is not None and response.status == 429
    await expect(page.locator("h1")).to_have_text("Too many unrecognised links")
    await check(page, "rate-limited")


async def test_anyone_can_take_the_self_assessment_and_is_sent_to_a_private_report(
    device: BrowserContext, settings: StackSettings
) -> None:
    page = await device.new_page()
    await page.goto(f"{settings.ratings_url}/self-assessment")
    await expect(page.locator("h1")).to_have_text("Healthcare Leadership Model self-assessment")
    await check(page, "self-start")
    await activate(page, "Start now")
    for number in range(1, 10):
        await expect(page.locator(".nhsuk-caption-l")).to_contain_text(f"Section {number} of 9")
        await expect(page.locator("main")).to_contain_text("describes you")
        if number in (1, 9):
            await check(page, f"self-section-{number}")
        await answer_with_keyboard(page, steps_down=2)
    await check(page, "self-comments")
    await answer_with_keyboard(page, steps_down=0, comment="I listen well.")
    await expect(page.locator("main")).to_contain_text("I act in line with NHS values")
    await check(page, "self-check")

    await tab_to(page, "Finish and see my report")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    # to the report's public address: the front door, which routes /report/ to reports (ADR 24)
    assert re.fullmatch(
        re.escape(settings.hlm360_frontdoor_url) + r"/report/self-assessment/[0-9a-f-]{36}/[A-Za-z0-9_-]{43}", page.url
    ), page.url
