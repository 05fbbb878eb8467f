"""The session as an iTIP message (RFC 5545/5546). The UID is the session id, so an update
(METHOD:REQUEST, SEQUENCE+1) or a cancellation (METHOD:CANCEL, STATUS:CANCELLED) replaces the same
calendar event. RFC 5546 requires an ORGANIZER and the ATTENDEEs in both: the facilitator runs the
session, so they organise it and the service sends on their behalf (SENT-BY); replies reach a person,
not the no-reply sender. The file on disk is the same calendar as the emailed copies."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from icalendar import Calendar, Event, vCalAddress

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


@dataclass(frozen=True)
class CalendarUser:
    """A person in the calendar object: an email address and, where known, a display name (CN)."""

    email: str
    name: str | None = None


def _address(user: CalendarUser, **parameters: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{user.email}")
    if user.name:
        # A parameter value cannot hold a DQUOTE or control characters (RFC 5545 3.1).
        address.params["CN"] = "".join(c for c in user.name if c != '"' and c.isprintable()).strip()
    address.params.update(parameters)
    return address


def session_ics(
    *,
    session_id: UUID,
    starts_at: datetime,
    ends_at: datetime,
    mode: SessionMode,
    stamp: datetime,
    organizer: CalendarUser,
    attendees: tuple[CalendarUser, ...],
    sent_by: str | None = None,
    sequence: int = 0,
    method: str = REQUEST,
    location: str | None = None,
) -> bytes:
    """A REQUEST (new or updated event) or CANCEL of the session, with its organiser and attendees."""
    if method not in (REQUEST, CANCEL):
        raise ValueError(f"unsupported iTIP method {method!r}")
    if not attendees:
        raise ValueError("an iTIP request or cancellation names at least one attendee (RFC 5546 3.2)")
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
    event.add("organizer", _address(organizer, **({"SENT-BY": f"mailto:{sent_by}"} if sent_by else {})))
    # A request asks each attendee to reply; a cancellation expects no reply.
    rsvp = "TRUE" if method == REQUEST else "FALSE"
    for attendee in attendees:
        event.add(
            "attendee",
            _address(attendee, CUTYPE="INDIVIDUAL", ROLE="REQ-PARTICIPANT", PARTSTAT="NEEDS-ACTION", RSVP=rsvp),
        )
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
