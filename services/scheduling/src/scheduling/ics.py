"""The session as an iCalendar object (RFC 5545/5546). The UID is the session id, so an update
(METHOD:REQUEST, SEQUENCE+1) or a cancellation (METHOD:CANCEL) replaces the same calendar event.
The file on disk has no names or emails; the emailed copies name the organiser and attendees."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from icalendar import Calendar, Event

from shared.contracts.vocabulary import SessionMode

SUMMARY = "HLM 360 feedback session"
DESCRIPTION = (
    "Facilitated conversation about your Healthcare Leadership Model 360 report "
    "(about two hours). Your facilitator will have read the report beforehand."
)
LOCATIONS = {SessionMode.VIRTUAL: "Online (joining link to follow)", SessionMode.IN_PERSON: "In person"}


def ics_path(output_dir: Path, *, cycle_id: UUID) -> Path:
    return (output_dir / str(cycle_id) / "session.ics").resolve()


REQUEST = "REQUEST"
CANCEL = "CANCEL"


def session_ics(
    *,
    session_id: UUID,
    starts_at: datetime,
    ends_at: datetime,
    mode: SessionMode,
    stamp: datetime,
    sequence: int = 0,
    method: str = REQUEST,
    location: str | None = None,
    organizer: str | None = None,
    attendees: tuple[str, ...] = (),
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//hlm360//scheduling//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", str(session_id))
    event.add("sequence", sequence)
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", starts_at.astimezone(UTC))
    event.add("dtend", ends_at.astimezone(UTC))
    event.add("summary", SUMMARY)
    event.add("description", DESCRIPTION)
    event.add("location", location or LOCATIONS[mode])
    event.add("status", "CANCELLED" if method == CANCEL else "CONFIRMED")
    if organizer:
        event.add("organizer", f"mailto:{organizer}")
    for attendee in attendees:
        event.add("attendee", f"mailto:{attendee}", parameters={"ROLE": "REQ-PARTICIPANT", "RSVP": "FALSE"})
    calendar.add_component(event)
    content: bytes = calendar.to_ical()
    return content


def write_atomically(path: Path, content: bytes) -> None:
    """Write via a temporary file and rename, so a reader never sees half a calendar."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".session-", suffix=".ics")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
