"""The session's calendar file: UID is the session id, times in UTC, no personal data."""

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from uuid import uuid4

from icalendar import Calendar

from scheduling.ics import SUMMARY, ics_path, session_ics, write_atomically
from shared.contracts.vocabulary import SessionMode


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
