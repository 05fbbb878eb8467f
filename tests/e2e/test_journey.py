"""A complete 360 through all four services, over real Kafka, PostgreSQL and SMTP."""

import asyncio
import json
import os
import signal
import subprocess
import time
from collections import Counter
from uuid import UUID, uuid4

import httpx

from deploy.demo.journey import JourneyResult, run_journey
from deploy.demo.traces import SERVICES, cycle_traces, opening_trace
from shared.contracts.events import EVENT_TYPES
from shared.contracts.topics import topic_for
from tests.config import REPO, StackSettings
from tests.e2e.conftest import Databases
from tests.support import TopicReader, eventually

EXPECTED_EVENTS = {
    "CycleRequested": 1,
    "CycleOpened": 1,
    "RaterNominated": 10,
    "InvitationSent": 10,
    "RatingSubmitted": 10,
    "ResponseReceived": 10,  # the fact of each response, for invitations (issue 12: no answers)
    "CycleClosed": 1,
    "ReportGenerated": 1,
    "FeedbackSessionScheduled": 1,
}


async def events_of_cycle(settings: StackSettings, cycle_id: UUID, *, crashed: bool) -> Counter[str]:
    """Counts the cycle's events on Kafka. Without a crash every event is published exactly once.
    After a crash, delivery is at least once: the outbox may republish a row whose publication was
    not yet marked (same event_id, which consumers drop) and an email may be re-sent (a second
    InvitationSent for the same rater), so events are then counted by id and invitations by rater."""
    key = str(cycle_id).encode()
    topics = [topic_for(t) for t in EVENT_TYPES]
    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, *topics) as reader:
        records = await reader.wait_for(lambda r: r.key == key, count=sum(EXPECTED_EVENTS.values()), timeout=30)
        await asyncio.sleep(1.0)  # let any duplicate that would break exactly-once arrive too
        records = [r for r in await reader.poll() if r.key == key]
    events = [json.loads(r.value) for r in records]
    if not crashed:
        assert len({e["event_id"] for e in events}) == len(events), "an event was published twice"
    counts = Counter({e["event_id"]: e["event_type"] for e in events}.values())
    if crashed:
        counts["InvitationSent"] = len({e["rater_id"] for e in events if e["event_type"] == "InvitationSent"})
    return counts


async def assert_journey_state(
    dbs: Databases, settings: StackSettings, result: JourneyResult, *, crashed: bool = False
) -> None:
    cycle_id = result.cycle_id
    raters = await dbs.fetch("invitations", 'SELECT "group", status FROM invitations.rater WHERE cycle_id=$1', cycle_id)
    assert len(raters) == 10 and {r["status"] for r in raters} == {"submitted"}, (
        "invitations saw every ResponseReceived"
    )
    assert Counter(r["group"] for r in raters) == {
        "self": 1,
        "line_manager": 1,
        "peer": 3,
        "direct_report": 3,
        "other": 2,
    }
    responses = await dbs.fetch("ratings", "SELECT rater_id FROM ratings.response WHERE cycle_id=$1", cycle_id)
    assert len(responses) == 10
    closed = await dbs.fetch("ratings", "SELECT status FROM ratings.cycle WHERE id=$1", cycle_id)
    assert [r["status"] for r in closed] == ["closed"]
    reports = await dbs.fetch(
        "reports", "SELECT id, length(pdf) AS size FROM reports.report WHERE cycle_id=$1", cycle_id
    )
    assert len(reports) == 1 and reports[0]["size"] > 10_000
    assert str(reports[0]["id"]) == result.report["report_id"]
    sessions = await dbs.fetch("scheduling", "SELECT id, status FROM scheduling.session WHERE cycle_id=$1", cycle_id)
    assert len(sessions) == 1 and sessions[0]["status"] == "booked"
    assert str(sessions[0]["id"]) == result.session["id"]
    assert await events_of_cycle(settings, cycle_id, crashed=crashed) == EXPECTED_EVENTS


async def test_full_journey_from_kafka_intake(settings: StackSettings, dbs: Databases) -> None:
    result = await run_journey(intake="kafka", log=lambda *_: None)
    await assert_journey_state(dbs, settings, result)
    pdf = REPO / result.report["pdf_path"] if not result.report["pdf_path"].startswith("/") else None
    assert (pdf or __import__("pathlib").Path(result.report["pdf_path"])).read_bytes().startswith(b"%PDF")


async def test_a_facilitator_in_the_participants_management_line_is_never_booked(
    settings: StackSettings, dbs: Databases
) -> None:
    """The participant chooses a facilitator who is in their management line (given in the request):
    invitations forwards the line on CycleOpened, scheduling refuses the choice and books someone else,
    outside the participant's organisation."""
    (manager,) = await dbs.fetch(
        "scheduling",
        "SELECT id, email FROM scheduling.facilitator WHERE status='active' AND region='London' ORDER BY id LIMIT 1",
    )
    result = await run_journey(
        intake="kafka", log=lambda *_: None, facilitator_id=manager["id"], management_line=[manager["email"].upper()]
    )
    await assert_journey_state(dbs, settings, result)
    booked = UUID(result.session["facilitator_id"])
    assert booked != manager["id"]
    (facilitator,) = await dbs.fetch(
        "scheduling", "SELECT organisation FROM scheduling.facilitator WHERE id=$1", booked
    )
    (participant,) = await dbs.fetch(
        "scheduling",
        "SELECT organisation, management_line FROM scheduling.participant WHERE cycle_id=$1",
        result.cycle_id,
    )
    assert manager["email"].lower() in participant["management_line"]
    assert facilitator["organisation"] != participant["organisation"]


async def test_no_names_or_emails_in_logs_or_traces(settings: StackSettings) -> None:
    result = await run_journey(intake="http", log=lambda *_: None)
    files = list((settings.hlm360_local_dir / "logs").glob("*.log"))
    assert files, "services write logs under .local"
    director = result.participant_email.replace("participant.", "director.", 1)  # the request's management line
    needles = [*result.rater_emails, director, "Okafor", "Stakeholder 1", "Listens carefully"]
    texts = {path.name: path.read_text(errors="replace") for path in files}
    async with httpx.AsyncClient(timeout=10.0) as http:  # every trace of the cycle in Jaeger (ADR 17)
        assert await opening_trace(http, settings.hlm360_jaeger_url, result.cycle_id) is not None
        for service in SERVICES:
            traces = await cycle_traces(http, settings.hlm360_jaeger_url, result.cycle_id, service=service)
            texts[f"Jaeger traces of {service}"] = json.dumps(traces)
    for where, text in texts.items():
        for needle in needles:
            assert needle not in text, f"{needle!r} leaked into {where}"


def _kill_hard(service: str) -> None:
    """SIGKILL the service's process group (a crash, not a shutdown) and wait until it is gone."""
    pid = int((REPO / ".local" / "run" / f"{service}.pid").read_text().strip())
    os.killpg(os.getpgid(pid), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"{service} survived SIGKILL")


async def test_journey_completes_exactly_once_when_a_service_crashes_midway(
    settings: StackSettings, dbs: Databases
) -> None:
    services_sh = str(REPO / "deploy/local/services.sh")
    cycle_id = uuid4()
    _kill_hard("reports")
    journey = asyncio.create_task(run_journey(intake="kafka", log=lambda *_: None, timeout=180, cycle_id=cycle_id))

    async def count(service: str, sql: str) -> int:
        if journey.done():
            journey.result()  # surface a failed journey at once
        rows = await dbs.fetch(service, sql, cycle_id)
        return int(rows[0][0])

    async def cycle_opened() -> bool:
        return await count("invitations", "SELECT count(*) FROM invitations.cycle WHERE id=$1") == 1

    await eventually(cycle_opened, timeout=60, what="the cycle to open")
    _kill_hard("invitations")  # while its invitation emails may still be in flight
    subprocess.run(["bash", services_sh, "start", "invitations"], check=True)

    async def some_ratings_in() -> bool:
        return await count("ratings", "SELECT count(*) FROM ratings.response WHERE cycle_id=$1") >= 3

    await eventually(some_ratings_in, timeout=90, what="ratings to arrive while reports is down")
    subprocess.run(["bash", services_sh, "start", "reports"], check=True)
    result = await journey
    await assert_journey_state(dbs, settings, result, crashed=True)
