"""Changing sessions (real Kafka, PostgreSQL and SMTP): reschedule and cancel update the same
calendar event, facilitator confirmation mode, unconfirmed requests lapse, completion emits
FeedbackSessionCompleted."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from icalendar import Calendar

from scheduling.config import Settings
from scheduling.links import LinkPurpose
from scheduling.tables import (
    FeedbackSession,
)
from scheduling.usecases import common, followups, sessions
from shared.contracts.events import (
    FeedbackSessionCompleted,
)
from shared.contracts.topics import topic_for
from shared.errors import Rejected
from tests.config import StackSettings
from tests.integration.conftest import ServiceUnderTest
from tests.integration.scheduling_support import (
    LONDON,
    SECRET,
    add_facilitator,
    add_slot,
    book,
    booking_link_in,
    calendar_of,
    config,
    emails,
    monday_in,
    open_booking,
    outbox,
    quiesce,
    running_scheduling,
    service_fixture,  # noqa: F401 (the `service` fixture)
)
from tests.support import TopicReader, eventually


async def test_reschedule_and_cancel_update_the_same_calendar_event(
    settings: StackSettings, service: ServiceUnderTest
) -> None:
    facilitator = await add_facilitator(service)
    first = await add_slot(service, facilitator, monday_in(2))
    later = await add_slot(service, facilitator, monday_in(3, hour=14))
    cycle_id = await open_booking(service)
    session = await book(service, cycle_id, first)
    async with service.runtime.uow() as uow:
        await sessions.reschedule_session(
            uow,
            session_id=session.id,
            slot_id=later,
            by="facilitator",
            settings=config(service),
            now=datetime.now(UTC),
            facilitator_id=facilitator,
        )
        await uow.commit()
    async with service.runtime.uow() as uow:
        await sessions.cancel_session(
            uow,
            session_id=session.id,
            by="participant",
            settings=config(service),
            now=datetime.now(UTC),
            cycle_id=cycle_id,
        )
        await uow.commit()

    sent = [m for m in await emails(service, cycle_id) if m.ics is not None]
    assert [m.kind for m in sent] == ["session_booked"] * 2 + ["session_rescheduled"] * 2 + ["session_cancelled"] * 2
    calendars = [calendar_of(m) for m in sent]
    assert {str(event["UID"]) for _, event in calendars} == {str(session.id)}
    assert [(method, int(event["SEQUENCE"])) for method, event in calendars[::2]] == [
        ("REQUEST", 0),
        ("REQUEST", 1),
        ("CANCEL", 2),
    ]
    assert calendars[0][1].decoded("DTSTART") == monday_in(2)
    assert calendars[2][1].decoded("DTSTART") == monday_in(3, hour=14)
    assert str(calendars[4][1]["STATUS"]) == "CANCELLED"
    attendees = {str(a) for a in calendars[2][1]["ATTENDEE"]}
    assert {m.to_address for m in sent[2:4]} == {a.removeprefix("mailto:") for a in attendees}
    on_disk = Calendar.from_ical(Path(session.ics_path).read_bytes())
    assert str(on_disk["METHOD"]) == "CANCEL" and on_disk.walk("VEVENT")[0].decoded("SEQUENCE") == 2
    # RFC 5546: a CANCEL names the attendees, so the file on disk is the emailed calendar (it used to name nobody).
    assert {str(a) for a in on_disk.walk("VEVENT")[0]["ATTENDEE"]} == attendees
    assert str(on_disk.walk("VEVENT")[0]["ORGANIZER"]) in attendees, "organised by the facilitator"
    assert [e["reason"] for e in await outbox(service, "FeedbackSessionCancelled")] == ["participant"]
    assert [e["starts_at"][:16] for e in await outbox(service, "FeedbackSessionRescheduled")] == [
        monday_in(3, hour=14).isoformat()[:16]
    ]

    # The cancellation really leaves through SMTP with the calendar attached as METHOD=CANCEL.
    cancel_email = sent[4]

    def find_delivered() -> Path | None:
        for path in sorted(settings.hlm360_mail_dir.glob("*.eml"), reverse=True)[:400]:
            if f"<{cancel_email.id}@" in path.read_text(errors="replace"):
                return path
        return None

    async def delivered() -> Path | None:
        return await asyncio.to_thread(find_delivered)

    eml = await eventually(delivered, what="the cancellation email in the SMTP sink")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    (part,) = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert part.get_param("method") == "CANCEL"
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes) and str(Calendar.from_ical(payload)["METHOD"]) == "CANCEL"

    # The cycle is free to book again, with a new calendar event.
    again = await book(service, cycle_id, first)
    assert again.id != session.id and again.status == "booked"


async def test_facilitator_confirmation_mode(settings: StackSettings, tmp_path: Path) -> None:
    async with running_scheduling(
        settings,
        link_secret=SECRET,
        output_dir=tmp_path,
        seed_availability=False,
        booking_confirmation="facilitator",
    ) as service:
        facilitator = await add_facilitator(service)
        slot = await add_slot(service, facilitator, monday_in(2))
        cycle_id = await open_booking(service)
        session = await book(service, cycle_id, slot)
        assert session.status == "requested"
        assert await outbox(service, "FeedbackSessionScheduled") == []
        assert sorted(m.kind for m in await emails(service, cycle_id)) == [
            "booking_offer",
            "booking_pending",
            "booking_requested",
        ]
        page = common.links(config(service)).path(LinkPurpose.FACILITATOR, facilitator)
        confirmed = await service.client.post(f"{page}/sessions/{session.id}", data={"action": "confirm"})
        assert confirmed.status_code == 303
        again = await service.client.post(f"{page}/sessions/{session.id}", data={"action": "confirm"})
        assert again.status_code == 409 and "needs no confirmation" in again.text
        api = (await service.admin.get("/api/sessions", params={"cycle_id": str(cycle_id)})).json()
        assert api["status"] == "booked"
        assert [e["session_id"] for e in await outbox(service, "FeedbackSessionScheduled")] == [str(session.id)]
        invitations = [m for m in await emails(service, cycle_id) if m.kind == "session_booked"]
        assert len(invitations) == 2 and all(calendar_of(m)[0] == "REQUEST" for m in invitations)
        await quiesce(service)


async def lapse(service: ServiceUnderTest, now: datetime, settings: Settings | None = None) -> int:
    async with service.runtime.uow() as uow:
        lapsed = await followups.lapse_unconfirmed_requests(uow, settings=settings or config(service), now=now)
        await uow.commit()
    return lapsed


async def test_a_request_the_facilitator_leaves_unconfirmed_lapses_and_the_participant_chooses_again(
    settings: StackSettings, tmp_path: Path
) -> None:
    async with running_scheduling(
        settings,
        link_secret=SECRET,
        output_dir=tmp_path,
        seed_availability=False,
        booking_confirmation="facilitator",
    ) as service:
        facilitator = await add_facilitator(service)
        slot = await add_slot(service, facilitator, monday_in(2))
        cycle_id = await open_booking(service)
        session = await book(service, cycle_id, slot)
        assert session.status == "requested" and config(service).confirm_within_hours == 48
        asked = session.created_at

        assert await lapse(service, asked + timedelta(hours=47)) == 0, "still within 48 hours"
        assert await lapse(service, asked + timedelta(hours=49)) == 1
        assert await lapse(service, asked + timedelta(hours=50)) == 0, "once"
        api = (await service.admin.get("/api/sessions", params={"cycle_id": str(cycle_id)})).json()
        assert api["status"] == "cancelled"
        async with service.runtime.uow() as uow:
            stored = await uow.session.get(FeedbackSession, session.id)
            assert stored is not None and stored.cancelled_by == "not_confirmed"
        sent = {m.kind: m for m in await emails(service, cycle_id)}
        deadline = (asked + timedelta(hours=48)).astimezone(LONDON)  # sooner than a day before the start
        assert (
            f"by {deadline:%H:%M} on {deadline:%A} {deadline.day} {deadline:%B %Y}. If it is not\nconfirmed by "
            "then, the request is withdrawn"
        ) in sent["booking_requested"].body
        assert booking_link_in(service, cycle_id, sent["booking_lapsed"].body)
        assert common.links(config(service)).path(LinkPurpose.FACILITATOR, facilitator) in sent["request_lapsed"].body
        assert sent["request_lapsed"].to_address.startswith("f.")
        assert await outbox(service, "FeedbackSessionCancelled") == [], "a request was never a booked session"

        page = common.links(config(service)).path(LinkPurpose.FACILITATOR, facilitator)
        late = await service.client.post(f"{page}/sessions/{session.id}", data={"action": "confirm"})
        assert late.status_code == 409
        again = await book(service, cycle_id, slot)  # the time is free again
        assert again.id != session.id and again.status == "requested"

        # However long the facilitator may take, a request lapses a day before the session would start.
        patient = config(service).model_copy(update={"confirm_within_hours": 10_000})
        assert await lapse(service, again.starts_at - timedelta(hours=25), patient) == 0
        assert await lapse(service, again.starts_at - timedelta(hours=23), patient) == 1
        await quiesce(service)


async def test_completion_emits_feedback_session_completed(settings: StackSettings, service: ServiceUnderTest) -> None:
    facilitator = await add_facilitator(service)
    slot = await add_slot(service, facilitator, monday_in(2))
    cycle_id = await open_booking(service)
    session = await book(service, cycle_id, slot)
    async with service.runtime.uow() as uow:
        with pytest.raises(Rejected, match="once the session has started"):
            await sessions.record_outcome(
                uow, facilitator_id=facilitator, session_id=session.id, outcome="completed", now=datetime.now(UTC)
            )
    async with service.runtime.uow() as uow:
        with pytest.raises(Rejected, match="no such session"):
            await sessions.record_outcome(
                uow,
                facilitator_id=uuid4(),
                session_id=session.id,
                outcome="completed",
                now=session.starts_at + timedelta(hours=2),
            )
    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, topic_for(FeedbackSessionCompleted)) as reader:
        async with service.runtime.uow() as uow:
            await sessions.record_outcome(
                uow,
                facilitator_id=facilitator,
                session_id=session.id,
                outcome="completed",
                now=session.starts_at + timedelta(hours=2),
            )
            await uow.commit()
        (record,) = await reader.wait_for(lambda r: r.key == str(cycle_id).encode())
    completed = json.loads(record.value)
    assert completed["outcome"] == "completed" and completed["report_id"] == str(session.report_id)
    assert completed["session_id"] == str(session.id) and completed["facilitator_id"] == str(facilitator)
    api = (await service.admin.get("/api/sessions", params={"cycle_id": str(cycle_id)})).json()
    assert api["status"] == "completed"
