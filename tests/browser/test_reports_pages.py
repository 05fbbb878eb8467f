"""Reports pages in real Chromium against the running service, for a report made from events on Kafka:
the facilitator's report page, the participant's page while it is held and after the session, the
refusal pages (expired, forged, someone else's link), the self-assessment page while it is prepared and
when ready, and a programme's cohort report. axe-core finds no WCAG 2.2 A/AA violation on any of them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID, uuid4

import httpx
from playwright.async_api import Page, expect
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from reports.bench import realistic_responses
from reports.links import Link, sign
from shared.contracts.events import (
    CommentAnswer,
    Event,
    FeedbackSessionCompleted,
    FeedbackSessionScheduled,
    ImportanceAnswer,
    ItemAnswer,
    SelfAssessmentCompleted,
)
from shared.contracts.vocabulary import DIMENSION_TITLES, SessionMode
from shared.links import SigningKeys
from tests.browser.conftest import assert_accessible, snapshot
from tests.config import ENV_FILE, StackSettings
from tests.support import closed_cycle, eventually, publish_events

VERSION = "hlm360-default-1"
PARTICIPANT = "Amara Okafor"


class ReportsSecrets(BaseSettings):
    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore")

    reports_link_secret: SecretStr
    reports_admin_token: SecretStr  # deploy/local/stack.sh always writes one


def secrets() -> ReportsSecrets:
    return ReportsSecrets()  # type: ignore[call-arg]


def report_path(report_id: UUID, *, role: str, holder: UUID | None = None, expires: datetime | None = None) -> str:
    link = Link("report", report_id, role, holder, expires or datetime.now(UTC) + timedelta(days=2))
    return "/report/" + sign(link, keys=SigningKeys(secrets().reports_link_secret.get_secret_value().encode()))


async def publish(settings: StackSettings, *events: Event) -> None:
    await publish_events(settings.hlm360_kafka_bootstrap_servers, *events)


async def generated_report(
    settings: StackSettings, *, programme: str, unseen: str = "nothing to hide", shift: int = 0
) -> tuple[UUID, UUID]:
    """Publishes a whole cycle and waits for the running reports service to compile its report."""
    cycle_id = uuid4()
    # Two "others" are below the anonymity threshold (3) and cannot be pooled with anyone: their
    # ratings and their comment (`unseen`) must appear nowhere.
    opened, ratings, closed = closed_cycle(
        cycle_id,
        participant_id=f"BT-{cycle_id.hex[:8]}",
        programme=programme,
        shift=shift,
        other_comment=unseen,
        participant_email=f"participant.{cycle_id.hex[:8]}@browser.example.nhs.uk",
        organisation="Browser Test Community NHS Trust",
        producer="browser-test",
    )
    await publish(settings, opened, *ratings, closed)

    async def located() -> UUID | None:
        async with httpx.AsyncClient(base_url=settings.reports_url, headers=settings.admin_headers("reports")) as http:
            response = await http.get(f"/api/cycles/{cycle_id}/report")
        return UUID(response.json()["report_id"]) if response.status_code == 200 else None

    return cycle_id, await eventually(located, timeout=60, what="the report to be generated")


async def status_of(settings: StackSettings, path: str) -> int:
    async with httpx.AsyncClient(base_url=settings.reports_url) as http:
        return (await http.get(path)).status_code


async def expect_nine_dimensions(page: Page, *, role: Literal["heading", "table"] = "heading") -> None:
    for title in DIMENSION_TITLES.values():
        await expect(page.get_by_role(role, name=title, exact=True).first).to_be_visible()


async def test_facilitator_reads_the_report_first_then_the_participant_after_the_session(
    settings: StackSettings, page: Page
) -> None:
    unseen = f"Only two of us said this {uuid4().hex[:6]}"
    cycle_id, report_id = await generated_report(settings, programme=f"Browser cohort {uuid4().hex[:8]}", unseen=unseen)
    participant = settings.reports_url + report_path(report_id, role="participant")

    # Before the session the participant's link shows why the report is held.
    response = await page.goto(participant)
    assert response is not None and response.status == 403
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your report is not available yet")
    await expect(page.locator("main")).to_contain_text("released to you at your feedback session")
    await expect(page.locator("main")).not_to_contain_text(PARTICIPANT)
    await assert_accessible(page)
    await snapshot(page, "reports-participant-held")

    # The session is booked: the facilitator's link opens the report.
    facilitator_id, session_id = uuid4(), uuid4()
    starts = datetime.now(UTC) + timedelta(days=2)
    await publish(
        settings,
        FeedbackSessionScheduled(
            producer="browser-test",
            cycle_id=cycle_id,
            session_id=session_id,
            report_id=report_id,
            facilitator_id=facilitator_id,
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            mode=SessionMode.VIRTUAL,
        ),
    )
    facilitator = report_path(report_id, role="facilitator", holder=facilitator_id)

    async def session_known() -> bool:
        return await status_of(settings, facilitator) == 200

    await eventually(session_known, what="the facilitator's link to work")
    await page.goto(settings.reports_url + facilitator)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Healthcare Leadership Model 360° feedback report")
    await expect(page.locator("header")).to_contain_text(f"For {PARTICIPANT}")
    for section in (
        "How this report was compiled",
        "Overview: you and others across the nine dimensions",
        "Summary by dimension",
        "Importance to the role and rating",
        "Highest and lowest rated behaviours",
        "Blind spots and hidden strengths",
        "Behaviours in detail",
        "Comments",
        "Your feedback conversation and development actions",
    ):
        await expect(page.get_by_role("heading", level=2, name=section, exact=True)).to_be_visible()
    await expect_nine_dimensions(page)
    # The two "others" are below the threshold: said to be left out, and nothing of theirs is shown.
    main = page.locator("main")
    await expect(main).to_contain_text("Left out to protect anonymity (too few responses): Others.")
    await expect(main).not_to_contain_text(unseen)
    compiled = page.get_by_role("table", name="Responses shown in this report, by rater group")
    await expect(compiled.get_by_role("rowheader")).to_have_text(
        ["Self", "Line manager", "Peers", "Direct reports", "All others"]
    )
    await expect(
        page.get_by_role(
            "table", name="Average rating per dimension and rater group (number of ratings in brackets)"
        ).get_by_role("row")
    ).to_have_count(1 + len(DIMENSION_TITLES))
    download = page.get_by_role("link", name="Download the report (PDF)")
    async with httpx.AsyncClient(base_url=settings.reports_url) as http:
        pdf = await http.get(await download.get_attribute("href") or "")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and unseen.encode() not in pdf.content
    await assert_accessible(page)
    await snapshot(page, "reports-facilitator-report")

    # Another facilitator's link to the same report is refused, and says why.
    response = await page.goto(settings.reports_url + report_path(report_id, role="facilitator", holder=uuid4()))
    assert response is not None and response.status == 403
    await expect(page.get_by_role("heading", level=1)).to_have_text("You cannot open this report")
    await expect(page.locator("main")).not_to_contain_text(PARTICIPANT)
    await assert_accessible(page)
    await snapshot(page, "reports-not-the-facilitator")

    # The session took place: the report is released to the participant.
    await publish(
        settings,
        FeedbackSessionCompleted(
            producer="browser-test",
            cycle_id=cycle_id,
            session_id=session_id,
            report_id=report_id,
            facilitator_id=facilitator_id,
            outcome="completed",
        ),
    )

    async def released() -> bool:
        return await status_of(settings, participant.removeprefix(settings.reports_url)) == 200

    await eventually(released, what="the report to be released to the participant")
    await page.goto(participant)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Healthcare Leadership Model 360° feedback report")
    await expect(
        page.get_by_role("heading", level=2, name="Your feedback conversation and development actions", exact=True)
    ).to_be_visible()
    await expect_nine_dimensions(page)
    await expect(page.locator("main")).not_to_contain_text(unseen)
    await assert_accessible(page)
    await snapshot(page, "reports-participant-released")

    # Keyboard: the skip link is the first stop and takes the reader to the report.
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to the report")
    await expect(skip).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(participant + "#main")


async def test_expired_and_forged_links_explain_themselves(settings: StackSettings, page: Page) -> None:
    # Expiry is checked before anything is looked up, so any report id will do.
    expired = report_path(uuid4(), role="participant", expires=datetime.now(UTC) - timedelta(minutes=1))
    response = await page.goto(settings.reports_url + expired)
    assert response is not None and response.status == 410
    await expect(page.get_by_role("heading", level=1)).to_have_text("This link has expired")
    await expect(page.locator("main")).to_contain_text("Ask your facilitator or the HLM 360 team to send you a new")
    await assert_accessible(page)
    await snapshot(page, "reports-link-expired")

    genuine = report_path(uuid4(), role="participant")
    forged = genuine.replace("participant", "facilitator")
    for path, name in ((forged, "reports-link-forged"), ("/report/not-a-link", None)):
        response = await page.goto(settings.reports_url + path)
        assert response is not None and response.status == 404
        await expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
        await expect(page.locator("main")).to_contain_text("check you copied the entire address")
        if name:
            await assert_accessible(page)
            await snapshot(page, name)


async def test_self_assessment_is_prepared_then_shown_only_to_its_token(settings: StackSettings, page: Page) -> None:
    assessment_id, token = uuid4(), "tok-" + uuid4().hex
    url = f"{settings.reports_url}/report/self-assessment/{assessment_id}/{token}"
    await page.goto(url)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your self-assessment report is being prepared")
    await expect(page.locator("main")).to_contain_text("This page will tell you when your report is ready")
    status = page.get_by_role("status")
    await expect(status).to_be_empty()
    await assert_accessible(page)
    await snapshot(page, "reports-self-assessment-preparing")

    note = f"I listen <b>well</b> #{uuid4().hex[:6]}"
    own = realistic_responses()[0]
    await publish(
        settings,
        SelfAssessmentCompleted(
            producer="browser-test",
            assessment_id=assessment_id,
            access_token_sha256=hashlib.sha256(token.encode()).hexdigest(),
            questionnaire_version=VERSION,
            answers=[ItemAnswer(item_id=a.item_id, dimension=a.dimension, score=a.score) for a in own.answers],
            importance=[ImportanceAnswer(dimension=d, score=s) for d, s in own.importance.items()],
            comments=[CommentAnswer(question_id="overall_strengths", text=note)],
        ),
    )
    # The page does not reload itself (WCAG 2.2.1): it says, in its status message, when the report is ready.
    await expect(status).to_contain_text("Your report is ready.", timeout=30_000)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your self-assessment report is being prepared")
    await assert_accessible(page)
    await snapshot(page, "reports-self-assessment-ready-to-open")
    await status.get_by_role("link", name="Open your report").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Your Healthcare Leadership Model self-assessment")
    await expect_nine_dimensions(page, role="table")
    await expect(page.locator("main")).to_contain_text("I act in line with NHS values")  # first person
    await expect(page.locator("main")).to_contain_text(note)  # as written, not as markup
    await expect(page.get_by_role("link", name="Download your report (PDF)")).to_be_visible()
    await assert_accessible(page)
    await snapshot(page, "reports-self-assessment")

    response = await page.goto(f"{settings.reports_url}/report/self-assessment/{assessment_id}/wrong-{token}")
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")


async def test_programme_lead_reads_the_cohort_report(settings: StackSettings, page: Page) -> None:
    admin = secrets().reports_admin_token
    programme = f"Browser cohort {uuid4().hex[:8]}"
    for shift in (0, 1, 0):  # a cohort report needs at least 3 participants' reports
        await generated_report(settings, programme=programme, shift=shift)
    async with httpx.AsyncClient(base_url=settings.reports_url) as http:
        created = await http.post(
            "/api/cohorts",
            json={"programme": programme},
            headers={"Authorization": f"Bearer {admin.get_secret_value()}"},
        )
    assert created.status_code == 201, created.status_code
    assert created.json()["participants"] == 3
    link = created.json()["link"]
    path = link[link.index("/cohort/") :]
    await page.goto(settings.reports_url + path)
    await expect(page.get_by_role("heading", level=1)).to_contain_text("cohort report")
    main = page.locator("main")
    await expect(main).to_contain_text(programme)
    await expect_nine_dimensions(page)
    await expect(main).not_to_contain_text(PARTICIPANT)  # no person is named
    await expect(main).not_to_contain_text("Always makes time for the team")  # comments are never included
    await assert_accessible(page)
    await snapshot(page, "reports-cohort")
