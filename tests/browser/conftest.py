"""Browser tier: real Debian Chromium driven by Playwright (never a downloaded browser), against the
running services; axe-core (from npm, deploy/frontend) checks every page; screenshots of each page at
desktop and phone width are saved under test-artifacts/screenshots/ for people to look at."""

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.config import REPO, StackSettings, services_with_demo_data

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = REPO / "deploy" / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 320, "height": 640}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def trusting_the_front_door() -> list[str]:
    """Chromium trusts the local front door's certificate (deploy/local/frontdoor.sh) by its key's
    hash, and no other certificate it could not verify."""
    spki = REPO / ".local" / "frontdoor" / "spki.txt"
    assert spki.is_file(), f"{spki} missing: `make up` makes the front door's certificate"
    return [*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={spki.read_text().strip()}"]


@pytest.fixture(scope="session")
def settings() -> StackSettings:
    return services_with_demo_data()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=trusting_the_front_door(), headless=True
        )
        yield launched
        await launched.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    # bypass_csp lets the tests inject axe-core; the pages themselves keep their strict CSP.
    ctx = await browser.new_context(viewport=DESKTOP, locale="en-GB", bypass_csp=True)
    yield ctx
    await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def assert_accessible(page: Page) -> None:
    """axe-core in the page: zero WCAG 2.2 A/AA violations."""
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS
    )
    violations = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]
    assert violations == [], f"axe found violations on {page.url}:\n{json.dumps(violations, indent=1)}"


async def snapshot(page: Page, name: str) -> list[Path]:
    """Screenshots at desktop and phone width (320 px also checks reflow: no sideways scrolling)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    saved = []
    original = page.viewport_size or DESKTOP
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        await page.set_viewport_size(size)
        path = SCREENSHOTS / f"{name}-{label}.png"
        await page.screenshot(path=str(path), full_page=True)
        saved.append(path)
        if label == "phone":
            overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{name} scrolls sideways by {overflow}px at 320px wide"
    await page.set_viewport_size(original)
    return saved
