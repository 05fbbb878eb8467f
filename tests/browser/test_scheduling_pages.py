"""Scheduling pages in real Chromium against the running service: the participant's booking page
(keyboard only), the facilitator's pages, and the regional lead's register, call-out and CPD pages.
axe-core finds no WCAG 2.2 A/AA violation on any of them, with and without errors."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx
from playwright.async_api import Page, expect
from pydantic_settings import BaseSettings, SettingsConfigDict

from scheduling.links import LinkPurpose, Links
from shared.contracts.events import CycleOpened, ReportGenerated
from shared.contracts.vocabulary import RaterGroup
from shared.links import SigningKeys
from tests.browser.conftest import assert_accessible, snapshot
from tests.config import ENV_FILE, StackSettings
from tests.support import eventually, publish_events

LONDON_FACILITATOR = UUID("9a3b8c1d-2e4f-4a5b-8c6d-7e8f9a0b1c2d")
LONDON_LEAD = UUID("1d0c5a7e-0b1f-4e55-9a51-3c6f0a1e2b01")


class LinkSecret(BaseSettings):
    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore")

    scheduling_link_secret: str


def signed_path(purpose: LinkPurpose, subject_id: UUID, version: int = 1) -> str:
    keys = SigningKeys(LinkSecret().scheduling_link_secret.encode())  # type: ignore[call-arg]
    links = Links(keys=keys, base_url="")
    if purpose is LinkPurpose.BOOKING:  # expires (docs/adr/0016): minted now, as an email would
        return links.booking_path(subject_id, now=datetime.now(UTC))
    return links.path(purpose, subject_id, version)


async def report_ready(settings: StackSettings) -> str:
    """A London participant's report is ready (events on Kafka); returns their booking page URL once open."""
    cycle_id = uuid4()
    opened = CycleOpened(
        producer="browser-test",
        cycle_id=cycle_id,
        participant_id=f"BT-{cycle_id.hex[:6]}",
        participant_name="Amara Okafor",
        organisation="Browser Test Community NHS Trust",
        region="London",
        participant_email=f"participant.{cycle_id.hex[:8]}@browser.example.nhs.uk",
        deadline=datetime.now(UTC) + timedelta(days=14),
        invited_per_group={RaterGroup.SELF: 1},
    )
    report = ReportGenerated(
        producer="browser-test",
        cycle_id=cycle_id,
        report_id=uuid4(),
        participant_id=opened.participant_id,
        organisation=opened.organisation,
        region="London",
    )
    await publish_events(settings.hlm360_kafka_bootstrap_servers, opened, report)
    url = settings.scheduling_url + signed_path(LinkPurpose.BOOKING, cycle_id)

    async def ready() -> bool:
        async with httpx.AsyncClient() as http:
            return "Choose a time" in (await http.get(url)).text

    await eventually(ready, what="the booking page to offer times")
    return url


async def test_participant_books_a_time_with_the_keyboard_only(settings: StackSettings, page: Page) -> None:
    url = await report_ready(settings)
    await page.goto(url)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your feedback session")
    await assert_accessible(page)
    await snapshot(page, "scheduling-booking")

    # Submitting without a choice: the error summary takes focus and links to the first time.
    await page.get_by_role("button", name="Book this time").focus()
    await page.keyboard.press("Enter")
    summary = page.locator(".nhsuk-error-summary")
    await expect(summary).to_contain_text("Select a time for your feedback session")
    await expect(page).to_have_title(re.compile(r"^Error: Your feedback session"))
    await assert_accessible(page)
    await snapshot(page, "scheduling-booking-error")
    await summary.get_by_role("link").focus()
    await page.keyboard.press("Enter")
    first = page.locator("#slot-1")
    await expect(first).to_be_focused()
    await page.keyboard.press("Space")
    await expect(first).to_be_checked()
    await page.get_by_role("button", name="Book this time").focus()
    await page.keyboard.press("Enter")

    await expect(page.locator(".nhsuk-notification-banner")).to_contain_text("Your feedback session is booked")
    await expect(page.locator(".nhsuk-summary-list")).to_contain_text("Booked")
    await assert_accessible(page)
    await snapshot(page, "scheduling-booking-booked")


async def test_facilitator_pages(settings: StackSettings, page: Page) -> None:
    # A session booked with the London facilitator, so their page has something to act on.
    booking = await report_ready(settings)
    async with httpx.AsyncClient() as http:
        html = (await http.get(booking)).text
        slot = html.split('name="slot" type="radio" value="', 1)[1][:36]
        assert (await http.post(booking, data={"slot": slot})).status_code == 303
    base = settings.scheduling_url + signed_path(LinkPurpose.FACILITATOR, LONDON_FACILITATOR)
    await page.goto(base)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your facilitator page")
    await expect(page.get_by_role("heading", name="Your sessions")).to_be_visible()
    await assert_accessible(page)
    await snapshot(page, "scheduling-facilitator")

    # Move a session: the reschedule page lists free times as radios.
    await page.get_by_role("link", name="Move to another time").first.click()
    await expect(page.get_by_role("group", name="Choose the new time")).to_be_visible()
    await assert_accessible(page)
    await snapshot(page, "scheduling-facilitator-reschedule")

    # Publishing availability: errors first (nothing lost), then a valid weekly time far ahead.
    await page.goto(base + "/availability")
    await page.get_by_label("Start time").fill("7pm")
    await page.get_by_role("button", name="Add these times").click()
    await expect(page.locator(".nhsuk-error-summary")).to_contain_text("must be a 24-hour time")
    await expect(page.get_by_label("Start time")).to_have_value("7pm")
    await assert_accessible(page)
    await snapshot(page, "scheduling-availability-error")
    day = datetime.now(UTC).date() + timedelta(days=random.randint(400, 3000))
    await page.get_by_label("Day").fill(str(day.day))
    await page.get_by_label("Month").fill(str(day.month))
    await page.get_by_label("Year").fill(str(day.year))
    await page.get_by_label("Start time").fill("07:00")
    await page.get_by_label("1 hour", exact=True).check()
    await page.get_by_label("Online (video call)").check()
    await page.get_by_label("Repeat every week for how many weeks").fill("2")
    await page.get_by_role("button", name="Add these times").click()
    await expect(page.locator(".nhsuk-notification-banner")).to_contain_text("Your available times have been added")

    # Expression of interest in future CPD.
    await page.goto(base + "/interest")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator(".nhsuk-error-summary")).to_contain_text("Select at least one month")
    await assert_accessible(page)
    await snapshot(page, "scheduling-interest-error")
    await page.get_by_label("Online or in person").check()
    await page.get_by_label("March").check()
    await page.get_by_label("Topics you would like covered (optional)").fill("Feedback on blind spots")
    await page.get_by_role("button", name="Send").click()
    await expect(page.locator(".nhsuk-notification-banner")).to_contain_text("expression of interest")


async def test_regional_lead_register_callout_and_cpd(settings: StackSettings, page: Page) -> None:
    base = settings.scheduling_url + signed_path(LinkPurpose.LEAD, LONDON_LEAD)
    await page.goto(base)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Regional lead: London")
    await assert_accessible(page)
    await snapshot(page, "scheduling-lead")

    # Register a facilitator (errors first), accredited on the way in.
    tag = uuid4().hex[:8]
    await page.goto(base + "/facilitators/new")
    line_manager = page.get_by_label("Their line manager's email address (optional)")
    await expect(page.locator("#line_manager_email-hint")).to_have_text("Used only to avoid conflicts of interest")
    await line_manager.fill("their manager")
    await page.get_by_role("button", name="Add the facilitator").click()
    summary = page.locator(".nhsuk-error-summary")
    await expect(summary).to_contain_text("Enter the facilitator's full name")
    await expect(summary).to_contain_text("Enter their line manager's email address in the correct format")
    await expect(line_manager).to_have_value("their manager")
    await expect(line_manager).to_have_attribute("aria-describedby", "line_manager_email-hint line_manager_email-error")
    await assert_accessible(page)
    await snapshot(page, "scheduling-lead-facilitator-error")
    await summary.get_by_role("link", name=re.compile("line manager")).click()
    await expect(line_manager).to_be_focused()
    await line_manager.fill(f"manager.{tag}@browser.example.nhs.uk")
    await page.get_by_label("Full name").fill(f"Test Facilitator {tag}")
    await page.get_by_label("Work email address").fill(f"facilitator.{tag}@browser.example.nhs.uk")
    await page.get_by_label("Organisation").fill("Browser Test Mental Health Trust")
    await page.get_by_label("E-learning score (%)").fill("88")
    passed = datetime.now(UTC).date() - timedelta(days=60)
    course = passed + timedelta(days=20)
    for legend, day in (("Date the e-learning was passed", passed), ("Date of the one-day course", course)):
        group = page.get_by_role("group", name=legend)
        await group.get_by_label("Day").fill(str(day.day))
        await group.get_by_label("Month").fill(str(day.month))
        await group.get_by_label("Year").fill(str(day.year))
    await page.get_by_role("button", name="Add the facilitator").click()
    await expect(page.locator(".nhsuk-notification-banner")).to_contain_text("added to the register")
    new = page.get_by_role("link", name=f"Test Facilitator {tag}")
    facilitator_id = UUID((await new.get_attribute("href") or "").rsplit("/", 1)[1])
    await new.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Test Facilitator {tag}")
    await assert_accessible(page)
    await snapshot(page, "scheduling-lead-facilitator")
    # Their link is renewed (as if it had been forwarded): from now on only version 2 opens their page.
    await page.get_by_role("button", name="Email the facilitator a new link").click()
    await expect(page.locator(".nhsuk-notification-banner")).to_contain_text("Their previous link no longer works")

    # A call-out for a cohort peak.
    start = datetime.now(UTC).date() + timedelta(days=40)
    await page.goto(base + "/callouts/new")
    await page.get_by_role("button", name="Publish the call-out").click()
    await expect(page.locator(".nhsuk-error-summary")).to_contain_text("Enter a title")
    await assert_accessible(page)
    await snapshot(page, "scheduling-callout-new-error")
    await page.get_by_label("Title").fill(f"Talent scheme {tag}: 15 participants")
    await page.get_by_label("What facilitators are needed for").fill("Virtual feedback sessions for a talent scheme.")
    await page.get_by_label("Online (video call)").check()
    for legend, day in (
        ("First day sessions are needed", start),
        ("Last day sessions are needed", start + timedelta(days=30)),
        ("Volunteer by", start - timedelta(days=10)),
    ):
        group = page.get_by_role("group", name=legend)
        await group.get_by_label("Day").fill(str(day.day))
        await group.get_by_label("Month").fill(str(day.month))
        await group.get_by_label("Year").fill(str(day.year))
    await page.get_by_label("Number of participants").fill("15")
    await page.get_by_role("button", name="Publish the call-out").click()
    await expect(page.locator(".nhsuk-notification-banner")).to_contain_text("call-out has been published")
    callout_url = page.url.split("?")[0]

    # The new facilitator volunteers; the lead sees it.
    old_link = settings.scheduling_url + signed_path(LinkPurpose.FACILITATOR, facilitator_id)
    await page.goto(old_link)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Link not recognised")
    facilitator = settings.scheduling_url + signed_path(LinkPurpose.FACILITATOR, facilitator_id, version=2)
    await page.goto(facilitator)
    await page.get_by_role("link", name=f"Talent scheme {tag}: 15 participants").click()
    await page.get_by_label("How many feedback sessions can you offer?").fill("0")
    await page.get_by_role("button", name="Volunteer").click()
    await expect(page.locator(".nhsuk-error-summary")).to_contain_text("whole number from 1 to 50")
    await assert_accessible(page)
    await snapshot(page, "scheduling-callout-volunteer-error")
    await page.get_by_label("How many feedback sessions can you offer?").fill("4")
    await page.get_by_role("button", name="Volunteer").click()
    await expect(page.locator(".nhsuk-notification-banner")).to_contain_text("Thank you for volunteering")
    await page.goto(callout_url)
    await expect(page.locator("main")).to_contain_text(f"Test Facilitator {tag}")
    await expect(page.locator(".nhsuk-summary-list")).to_contain_text("11")  # still needed: 15 - 4
    await assert_accessible(page)
    await snapshot(page, "scheduling-lead-callout")

    # A CPD event: published, the facilitator registers, the lead records attendance.
    await page.goto(base + "/cpd/new")
    await page.get_by_label("Title").fill(f"CPD day {tag}")
    group = page.get_by_role("group", name="Date")
    await group.get_by_label("Day").fill(str(start.day))
    await group.get_by_label("Month").fill(str(start.month))
    await group.get_by_label("Year").fill(str(start.year))
    await page.get_by_label("Start time").fill("09:30")
    await page.get_by_label("End time").fill("09:00")
    await page.get_by_label("Place", exact=True).fill("Online")
    await page.get_by_label("Number of places").fill("30")
    await page.get_by_role("button", name="Publish the event").click()
    await expect(page.locator(".nhsuk-error-summary")).to_contain_text("The end time must be after the start time")
    await expect(page.get_by_label("Title")).to_have_value(f"CPD day {tag}")
    await assert_accessible(page)
    await snapshot(page, "scheduling-cpd-new-error")
    await page.get_by_label("End time").fill("16:30")
    await page.get_by_role("button", name="Publish the event").click()
    await expect(page.locator(".nhsuk-notification-banner")).to_contain_text("CPD event has been published")
    event_url = page.url.split("?")[0]
    await page.goto(facilitator)
    await page.get_by_role("button", name=f"Register for CPD day {tag}").click()
    await expect(page.locator(".nhsuk-notification-banner")).to_contain_text("registered for the CPD event")
    await page.goto(event_url)
    await page.get_by_label(f"Test Facilitator {tag}").check()
    await page.get_by_role("button", name="Record attendance").click()
    await expect(page.locator(".nhsuk-notification-banner")).to_contain_text("Attendance has been recorded")
    await assert_accessible(page)
    await snapshot(page, "scheduling-lead-cpd")
    await page.goto(facilitator)
    await expect(page.locator(".nhsuk-summary-list")).to_contain_text(f"CPD day {tag}")
    await assert_accessible(page)
    await snapshot(page, "scheduling-facilitator-new")
