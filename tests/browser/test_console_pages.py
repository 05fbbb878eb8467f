"""The operators' web console in real Chromium against the running console (services.sh starts it
on 8105 with the operators' settings): signing in with the keyboard, a wrong token, the overview.
axe-core finds no WCAG 2.2 A/AA violation; screenshots are saved."""

from __future__ import annotations

import os

from playwright.async_api import Page, expect

from tests.browser.conftest import assert_accessible, snapshot
from tests.config import StackSettings

CONSOLE = "http://127.0.0.1:8105"


async def test_an_operator_signs_in_and_sees_the_pipeline(page: Page, settings: StackSettings) -> None:
    await page.goto(f"{CONSOLE}/")
    await expect(page).to_have_url(f"{CONSOLE}/sign-in")
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
    await expect(page).to_have_url(f"{CONSOLE}/sign-in")
