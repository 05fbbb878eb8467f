"""The session's calendar object: UID is the session id, times in UTC, and an iTIP REQUEST or CANCEL
(RFC 5546) with organiser and attendees, checked with icalendar and with ical.js (Thunderbird's parser)."""

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from icalendar import Calendar

from scheduling.ics import REQUEST, SUMMARY, CalendarUser, ics_path, session_ics, write_atomically
from shared.contracts.vocabulary import SessionMode

ICAL_JS = Path(__file__).resolve().parents[1] / "ical"
FACILITATOR = CalendarUser(email="facilitator@trust.example.nhs.uk", name="Sam O'Neill, RN")
PARTICIPANT = CalendarUser(email="participant@trust.example.nhs.uk", name="Alex Smith")
SENDER = "no-reply@hlm360.example.nhs.uk"


def test_calendar_event_has_session_uid_and_utc_times() -> None:
    session_id = uuid4()
    bst = timezone(timedelta(hours=1))
    starts = datetime(2027, 6, 14, 10, tzinfo=bst)
    content = session_ics(
        session_id=session_id,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        mode=SessionMode.VIRTUAL,
        stamp=datetime(2027, 6, 1, tzinfo=UTC),
        organizer=FACILITATOR,
        attendees=(PARTICIPANT, FACILITATOR),
    )
    assert b"DTSTART:20270614T090000Z" in content
    assert b"DTEND:20270614T110000Z" in content
    (event,) = Calendar.from_ical(content).walk("VEVENT")
    assert str(event["UID"]) == str(session_id)
    assert str(event["SUMMARY"]) == SUMMARY == "HLM 360 feedback session"
    assert event.decoded("DTSTART") == datetime(2027, 6, 14, 9, tzinfo=UTC)


def test_calendar_file_is_written_under_the_cycle_folder(tmp_path: Path) -> None:
    cycle_id = uuid4()
    path = ics_path(tmp_path, cycle_id=cycle_id)
    assert path == (tmp_path / str(cycle_id) / "session.ics").resolve()
    write_atomically(path, b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    write_atomically(path, b"second")
    assert path.read_bytes() == b"second"
    assert [p.name for p in path.parent.iterdir()] == ["session.ics"]


def _calendar(
    session_id: UUID, *, method: str, sequence: int, attendees: tuple[CalendarUser, ...] = (PARTICIPANT, FACILITATOR)
) -> bytes:
    starts = datetime(2027, 6, 14, 9, tzinfo=UTC)
    return session_ics(
        session_id=session_id,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        mode=SessionMode.VIRTUAL,
        stamp=datetime(2027, 6, 1, 8, 30, tzinfo=UTC),
        organizer=FACILITATOR,
        attendees=attendees,
        sent_by=SENDER,
        sequence=sequence,
        method=method,
    )


def test_request_names_organiser_sent_by_the_service_and_invites_both_people() -> None:
    content = _calendar(uuid4(), method=REQUEST, sequence=0)
    calendar = Calendar.from_ical(content)
    assert str(calendar["METHOD"]) == "REQUEST"
    (event,) = calendar.walk("VEVENT")
    organizer = event["ORGANIZER"]
    assert str(organizer) == f"mailto:{FACILITATOR.email}"
    assert organizer.params["SENT-BY"] == f"mailto:{SENDER}" and organizer.params["CN"] == FACILITATOR.name
    attendees = event["ATTENDEE"]
    assert [str(a) for a in attendees] == [f"mailto:{PARTICIPANT.email}", f"mailto:{FACILITATOR.email}"]
    for attendee in attendees:
        assert (attendee.params["ROLE"], attendee.params["PARTSTAT"], attendee.params["RSVP"]) == (
            "REQ-PARTICIPANT",
            "NEEDS-ACTION",
            "TRUE",
        )
    assert event.decoded("DTSTAMP") == datetime(2027, 6, 1, 8, 30, tzinfo=UTC)
    assert str(event["STATUS"]) == "CONFIRMED"
    lines = content.split(b"\r\n")
    assert lines[-1] == b"" and all(len(line) <= 75 for line in lines), "CRLF, folded at 75 octets"


def test_calendar_without_attendees_or_with_another_method_is_refused() -> None:
    with pytest.raises(ValueError, match="attendee"):
        _calendar(uuid4(), method=REQUEST, sequence=0, attendees=())
    with pytest.raises(ValueError, match="method"):
        _calendar(uuid4(), method="PUBLISH", sequence=0)


def test_display_names_cannot_break_out_of_their_parameter() -> None:
    odd = CalendarUser(email="odd@example.org", name='Jo "JJ" Bloggs;ROLE=CHAIR:\x07')
    content = _calendar(uuid4(), method=REQUEST, sequence=0, attendees=(odd,))
    (event,) = Calendar.from_ical(content).walk("VEVENT")
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:odd@example.org"
    assert attendee.params["CN"] == "Jo JJ Bloggs;ROLE=CHAIR:" and attendee.params["ROLE"] == "REQ-PARTICIPANT"


def _ical_js(content: bytes) -> dict[str, Any]:
    """Parse with ical.js, installed from the committed lock file if missing (as the Makefile's assets step)."""
    npm, node = shutil.which("npm"), shutil.which("node")
    assert npm and node, "node and npm are needed to check calendars with ical.js"
    if not (ICAL_JS / "node_modules" / "ical.js" / "package.json").exists():
        subprocess.run(
            [npm, "ci", "--prefix", str(ICAL_JS), "--no-audit", "--no-fund", "--silent"], check=True, timeout=300
        )
    done = subprocess.run(
        [node, str(ICAL_JS / "parse.mjs")], input=content, capture_output=True, check=True, timeout=60
    )
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def test_request_update_and_cancel_parse_with_ical_js() -> None:
    """An independent parser (Thunderbird's) reads what a calendar client acts on in all three kinds."""
    session_id = uuid4()
    kinds = [
        ("REQUEST", 0, "CONFIRMED", "TRUE"),
        ("REQUEST", 1, "CONFIRMED", "TRUE"),
        ("CANCEL", 2, "CANCELLED", "FALSE"),
    ]
    for method, sequence, status, rsvp in kinds:
        parsed = _ical_js(_calendar(session_id, method=method, sequence=sequence))
        assert parsed["method"] == method and parsed["version"] == "2.0"
        (event,) = parsed["events"]
        assert (event["uid"], event["sequence"], event["status"]) == (str(session_id), sequence, status)
        assert event["dtstamp"] == "2027-06-01T08:30:00Z"
        assert (event["start"], event["end"]) == ("2027-06-14T09:00:00Z", "2027-06-14T11:00:00Z")
        assert event["organizer"]["address"] == f"mailto:{FACILITATOR.email}"
        assert event["organizer"]["params"]["SENT-BY"] == f"mailto:{SENDER}"
        assert event["organizer"]["params"]["CN"] == FACILITATOR.name
        assert [a["address"] for a in event["attendees"]] == [
            f"mailto:{PARTICIPANT.email}",
            f"mailto:{FACILITATOR.email}",
        ]
        for attendee in event["attendees"]:
            assert attendee["params"]["ROLE"] == "REQ-PARTICIPANT"
            assert attendee["params"]["PARTSTAT"] == "NEEDS-ACTION"
            assert attendee["params"]["RSVP"] == rsvp
