"""Reports in-process against real Kafka, PostgreSQL and the SMTP sink: CycleClosed -> ReportGenerated
(once, also on redelivery), who may read the report (facilitator first, participant after the
session), signed/expiring/forged links with audit rows, release, self-assessment, cohort report."""

from __future__ import annotations

import asyncio
import email
import hashlib
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from reports.bench import realistic_responses
from reports.links import Link, sign
from shared.contracts.events import (
    CommentAnswer,
    CycleClosed,
    Event,
    FacilitatorRegistered,
    FeedbackSessionCompleted,
    FeedbackSessionRescheduled,
    FeedbackSessionScheduled,
    ImportanceAnswer,
    ItemAnswer,
    ReportGenerated,
    ReportReleased,
    SelfAssessmentCompleted,
)
from shared.contracts.topics import topic_for
from shared.contracts.vocabulary import SessionMode
from shared.links import SigningKeys
from tests.config import StackSettings, kafka_options
from tests.integration.conftest import ServiceUnderTest, running_service
from tests.support import TopicReader, closed_cycle, eventually

SECRET = "integration-link-secret-" + "x" * 24
ADMIN = "integration-admin-token"
RATER_NAMES = ["Sam Patel", "Jo Bloggs", "Priya Shah"]  # names a rater might have; never sent to reports


@pytest.fixture
async def producer(settings: StackSettings) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(**kafka_options(settings.hlm360_kafka_bootstrap_servers), acks="all")
    await kafka.start()
    yield kafka
    await kafka.stop()


@pytest.fixture
async def reports(settings: StackSettings, tmp_path: Path) -> AsyncIterator[ServiceUnderTest]:
    async with running_service(
        "reports",
        settings,
        link_secret=SECRET,
        admin_token=ADMIN,
        output_dir=tmp_path / "reports",
        public_base_url="http://reports.test",
        mail_poll_seconds=0.2,
    ) as service:
        yield service


async def publish(producer: AIOKafkaProducer, *events: Event) -> None:
    for event in events:
        await producer.send_and_wait(topic_for(event), event.model_dump_json().encode(), key=event.kafka_key())


async def db(service: ServiceUnderTest) -> asyncpg.Connection:
    return await asyncpg.connect(service.database_url.replace("postgresql+asyncpg", "postgresql"))


async def query(service: ServiceUnderTest, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await db(service)
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


async def report_row(service: ServiceUnderTest, cycle_id: UUID) -> dict[str, Any] | None:
    response = await service.admin.get(f"/api/cycles/{cycle_id}/report")
    return response.json() if response.status_code == 200 else None


def mails_to(mail_dir: Path, recipient: str) -> list[Message]:
    found = []
    for path in sorted(mail_dir.glob("*.eml")):
        raw = path.read_bytes()
        message = email.message_from_bytes(raw)
        # other services running on the stack email the same people; keep only ours
        if recipient in (message["To"] or "") and b"reports.test" in raw:
            found.append(message)
    return found


def link_in(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            body = part.get_payload(decode=True).decode()  # type: ignore[union-attr]
            match = re.search(r"http://reports\.test(/\S+)", body)
            assert match, body
            return match.group(1)
    raise AssertionError("no text part")


async def test_cycle_closed_generates_one_report_and_redelivery_changes_nothing(
    settings: StackSettings, reports: ServiceUnderTest, producer: AIOKafkaProducer
) -> None:
    cycle_id = uuid4()
    opened, ratings, closed = closed_cycle(cycle_id, participant_id=f"P-{cycle_id.hex[:8]}")
    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, topic_for(ReportGenerated)) as reader:
        await publish(producer, closed, opened, *ratings)  # any order
        located = await eventually(partial(report_row, reports, cycle_id), timeout=60, what="the report")
        ours = located["report_id"].encode()  # the stack's own reports service may answer these events too
        await reader.wait_for(lambda r: r.key == str(cycle_id).encode() and ours in r.value, timeout=30)
        first = await query(reports, "SELECT id, figures, pdf FROM reports.report WHERE cycle_id=$1", cycle_id)
        again = CycleClosed(**closed.model_dump() | {"event_id": uuid4()})
        await publish(producer, closed, again, ratings[0])  # redelivered, second close, repeated rating

        async def handled() -> bool:
            rows = await query(
                reports,
                "SELECT count(*) AS n FROM inbox WHERE event_id = ANY($1::uuid[])",
                [again.event_id, closed.event_id],
            )
            return bool(rows[0]["n"] >= 2)

        await eventually(handled, timeout=30, what="the second CycleClosed to be handled")
        await reader.poll()
    assert len([r for r in reader.records if r.key == str(cycle_id).encode() and ours in r.value]) == 1
    rows = await query(reports, "SELECT id, figures, pdf FROM reports.report WHERE cycle_id=$1", cycle_id)
    assert len(rows) == 1 and rows[0]["id"] == first[0]["id"] and rows[0]["figures"] == first[0]["figures"]
    figures = json.loads(rows[0]["figures"])
    # 3 peers and 3 direct reports are shown; the 2 "other" raters cannot be pooled: suppressed
    assert [c["key"] for c in figures["columns"]] == ["self", "line_manager", "peer", "direct_report", "all_others"]
    assert figures["suppressed"] == ["other"]
    assert located and Path(located["pdf_path"]).read_bytes() == bytes(rows[0]["pdf"])
    html = Path(located["html_path"]).read_text()
    assert not any(name in html for name in RATER_NAMES) and "@" not in html.split("</style>")[1]


async def test_facilitator_first_then_participant_after_the_session_with_audit(
    settings: StackSettings, reports: ServiceUnderTest, producer: AIOKafkaProducer
) -> None:
    cycle_id, facilitator_id, session_id = uuid4(), uuid4(), uuid4()
    tag = cycle_id.hex[:8]
    participant_email = f"amara-{tag}@example.nhs.uk"
    facilitator_email = f"facilitator-{tag}@example.nhs.uk"
    opened, ratings, closed = closed_cycle(cycle_id, participant_id=f"P-{tag}", participant_email=participant_email)
    await publish(producer, opened, *ratings, closed)
    located = await eventually(lambda: report_row(reports, cycle_id), timeout=60, what="the report")
    report_id = UUID(located["report_id"])
    starts = datetime.now(UTC) + timedelta(days=2)
    await publish(
        producer,
        FacilitatorRegistered(
            producer="test",
            facilitator_id=facilitator_id,
            name="Fola Facilitator",
            email=facilitator_email,
            region="London",
            organisation="Another Trust",
            monthly_capacity=4,
        ),
        FeedbackSessionScheduled(
            producer="test",
            cycle_id=cycle_id,
            session_id=session_id,
            report_id=report_id,
            facilitator_id=facilitator_id,
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            mode=SessionMode.VIRTUAL,
        ),
    )
    facilitator_mail = await eventually(
        lambda: mails_to(settings.hlm360_mail_dir, facilitator_email),
        timeout=30,
        what="the facilitator's email",
    )
    path = link_in(facilitator_mail[0])
    assert path.startswith("/report/")
    page = await reports.client.get(path)
    assert page.status_code == 200 and "Amara Okafor" in page.text and "Download the report (PDF)" in page.text
    pdf = await reports.client.get(path + "/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    keys = SigningKeys(SECRET.encode())
    far = datetime.now(UTC) + timedelta(days=5)
    participant_link = sign(Link("report", report_id, "participant", None, far), keys=keys)
    assert (await reports.client.get(f"/report/{participant_link}")).status_code == 403  # not released yet
    stranger = sign(Link("report", report_id, "facilitator", uuid4(), far), keys=keys)
    assert (await reports.client.get(f"/report/{stranger}/pdf")).status_code == 403  # not this cycle's facilitator
    expired = sign(
        Link("report", report_id, "facilitator", facilitator_id, datetime.now(UTC) - timedelta(seconds=5)),
        keys=keys,
    )
    expired_page = await reports.client.get(f"/report/{expired}")
    assert expired_page.status_code == 410 and "This link has expired" in expired_page.text
    forged = path.split("/")[-1].replace(str(facilitator_id), str(uuid4()))
    assert (await reports.client.get(f"/report/{forged}")).status_code == 404
    other_secret = sign(Link("report", report_id, "participant", None, far), keys=SigningKeys(b"y" * 40))
    assert (await reports.client.get(f"/report/{other_secret}")).status_code == 404

    # moved session: a fresh link; completed session: released, participant emailed and let in
    await publish(
        producer,
        FeedbackSessionRescheduled(
            producer="test",
            cycle_id=cycle_id,
            session_id=session_id,
            facilitator_id=facilitator_id,
            starts_at=starts + timedelta(days=1),
            ends_at=starts + timedelta(days=1, hours=2),
            mode=SessionMode.VIRTUAL,
        ),
    )
    await eventually(
        lambda: len(mails_to(settings.hlm360_mail_dir, facilitator_email)) == 2, timeout=30, what="new link"
    )
    completed = FeedbackSessionCompleted(
        producer="test",
        cycle_id=cycle_id,
        session_id=session_id,
        report_id=report_id,
        facilitator_id=facilitator_id,
        outcome="completed",
    )
    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, topic_for(ReportReleased)) as reader:
        await publish(producer, completed, completed)
        released = await reader.wait_for(lambda r: r.key == str(cycle_id).encode(), timeout=30)
    assert json.loads(released[0].value)["report_id"] == str(report_id)
    participant_mail = await eventually(
        lambda: mails_to(settings.hlm360_mail_dir, participant_email),
        timeout=30,
        what="the participant's email",
    )
    own = await reports.client.get(link_in(participant_mail[0]))
    assert own.status_code == 200 and "Your feedback conversation" in own.text
    assert (await reports.client.get(f"/report/{participant_link}")).status_code == 200

    audit = await query(
        reports,
        "SELECT role, format, outcome, reason FROM reports.access_log WHERE subject_id=$1 ORDER BY id",
        report_id,
    )
    reasons = [(a["role"], a["outcome"], a["reason"]) for a in audit]
    assert ("facilitator", "granted", "ok") in reasons
    assert ("participant", "refused", "not_released") in reasons
    assert ("facilitator", "refused", "not_the_facilitator") in reasons
    assert ("facilitator", "refused", "expired") in reasons
    assert ("participant", "granted", "ok") in reasons
    unattributed = await query(
        reports, "SELECT reason FROM reports.access_log WHERE subject_id IS NULL AND reason='bad_signature'"
    )
    assert len(unattributed) >= 2  # forged and wrong-secret links are audited too
    assert (
        len(await query(reports, "SELECT 1 FROM reports.report WHERE id=$1 AND released_at IS NOT NULL", report_id))
        == 1
    )


async def test_an_admin_can_release_a_report_without_a_session_once(
    settings: StackSettings, reports: ServiceUnderTest, producer: AIOKafkaProducer
) -> None:
    cycle_id = uuid4()
    participant_email = f"amara-admin-{cycle_id.hex[:8]}@example.nhs.uk"
    opened, ratings, closed = closed_cycle(
        cycle_id, participant_id=f"P-{cycle_id.hex[:8]}", participant_email=participant_email
    )
    await publish(producer, opened, *ratings, closed)
    located = await eventually(lambda: report_row(reports, cycle_id), timeout=60, what="the report")
    report_id = UUID(located["report_id"])
    far = datetime.now(UTC) + timedelta(days=5)
    participant_link = (
        f"/report/{sign(Link('report', report_id, 'participant', None, far), keys=SigningKeys(SECRET.encode()))}"
    )
    assert (await reports.client.get(participant_link)).status_code == 403
    release = f"/api/cycles/{cycle_id}/report/release"

    assert (await reports.client.post(release)).status_code == 401
    assert (await reports.client.post(release, headers={"Authorization": "Bearer wrong"})).status_code == 401
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert (await reports.client.post(f"/api/cycles/{uuid4()}/report/release", headers=admin)).status_code == 404
    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, topic_for(ReportReleased)) as reader:
        released = await reports.client.post(release, headers=admin)
        assert released.status_code == 202 and released.json() == {"status": "released"}
        (record,) = await reader.wait_for(lambda r: r.key == str(cycle_id).encode(), timeout=30)
        again = await reports.client.post(release, headers=admin)
        assert again.status_code == 409 and again.json()["detail"] == "already_released"
        await asyncio.sleep(1.0)
        assert [r for r in await reader.poll() if r.key == str(cycle_id).encode()] == [record], "released once"
    event = json.loads(record.value)
    assert event["reason"] == "released_by_admin" and event["report_id"] == str(report_id)

    assert (await reports.client.get(participant_link)).status_code == 200
    mail = await eventually(
        lambda: mails_to(settings.hlm360_mail_dir, participant_email),
        timeout=30,
        what="the participant's link by email",
    )
    assert (await reports.client.get(link_in(mail[0]))).status_code == 200


async def test_self_assessment_page_is_prepared_then_private_to_the_token(
    reports: ServiceUnderTest, producer: AIOKafkaProducer
) -> None:
    assessment_id, token = uuid4(), "tok-" + uuid4().hex
    waiting = await reports.client.get(f"/report/self-assessment/{assessment_id}/{token}")
    assert waiting.status_code == 200 and "being prepared" in waiting.text and waiting.headers["X-Report-Ready"] == "no"
    assert 'http-equiv="refresh"' not in waiting.text and 'role="status"' in waiting.text  # no reload (WCAG 2.2.1)
    own = realistic_responses()[0]
    await publish(
        producer,
        SelfAssessmentCompleted(
            producer="test",
            assessment_id=assessment_id,
            access_token_sha256=hashlib.sha256(token.encode()).hexdigest(),
            questionnaire_version="hlm360-default-1",
            answers=[ItemAnswer(item_id=a.item_id, dimension=a.dimension, score=a.score) for a in own.answers],
            importance=[ImportanceAnswer(dimension=d, score=s) for d, s in own.importance.items()],
            comments=[CommentAnswer(question_id="overall_strengths", text="<b>I listen</b> #well")],
        ),
    )

    async def ready() -> Any:
        page = await reports.client.get(f"/report/self-assessment/{assessment_id}/{token}")
        return page if page.headers.get("X-Report-Ready") == "yes" else None

    page = await eventually(ready, timeout=30, what="the self-assessment report")
    assert "Your Healthcare Leadership Model self-assessment" in page.text
    assert "I act in line with NHS values" in page.text and "&lt;b&gt;I listen&lt;/b&gt; #well" in page.text
    pdf = await reports.client.get(f"/report/self-assessment/{assessment_id}/{token}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert (await reports.client.get(f"/report/self-assessment/{assessment_id}/wrong-{token}")).status_code == 404
    audit = await query(
        reports,
        "SELECT outcome, reason FROM reports.access_log WHERE kind='self_assessment' AND subject_id=$1",
        assessment_id,
    )
    assert {(a["outcome"], a["reason"]) for a in audit} >= {
        ("refused", "not_ready"),
        ("granted", "ok"),
        ("refused", "bad_token"),
    }


async def test_cohort_report_for_a_programme_and_earlier_360_comparison(
    settings: StackSettings, reports: ServiceUnderTest, producer: AIOKafkaProducer
) -> None:
    programme = f"Mary Seacole cohort {uuid4().hex[:6]}"
    lead = f"lead-{uuid4().hex[:6]}@example.nhs.uk"
    participant = f"P-{uuid4().hex[:8]}"
    cycles = [uuid4() for _ in range(3)]
    for n, cycle_id in enumerate(cycles):
        opened, ratings, closed = closed_cycle(
            cycle_id, participant_id=participant if n < 2 else f"P-{uuid4().hex[:8]}", programme=programme, shift=n % 2
        )
        closed = CycleClosed(**closed.model_dump() | {"occurred_at": datetime.now(UTC) + timedelta(minutes=n)})
        await publish(producer, opened, *ratings, closed)
        await eventually(partial(report_row, reports, cycle_id), timeout=60, what="a cohort member's report")
    later = await query(reports, "SELECT figures FROM reports.report WHERE cycle_id=$1", cycles[1])
    assert json.loads(later[0]["figures"])["comparison"]["dimensions"][0]["others_then"] is not None

    denied = await reports.client.post("/api/cohorts", json={"programme": programme})
    assert denied.status_code == 401
    headers = {"Authorization": f"Bearer {ADMIN}"}
    created = await reports.client.post(
        "/api/cohorts", json={"programme": programme, "lead_email": lead}, headers=headers
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["participants"] == 3 and body["new"]
    path = body["link"].removeprefix("http://reports.test")
    page = await reports.client.get(path)
    assert page.status_code == 200 and programme in page.text and "Amara" not in page.text
    assert (await reports.client.get(path + "/pdf")).content.startswith(b"%PDF")
    again = await reports.client.post("/api/cohorts", json={"programme": programme}, headers=headers)
    assert again.status_code == 201 and again.json()["cohort_id"] == body["cohort_id"] and not again.json()["new"]
    too_small = await reports.client.post("/api/cohorts", json={"programme": "nobody-" + programme}, headers=headers)
    assert too_small.status_code == 409
    await eventually(lambda: mails_to(settings.hlm360_mail_dir, lead), timeout=30, what="the lead's email")
