"""How the participant's feedback session gets booked in the demo and e2e journeys, as a participant
does it: open the booking email, follow its link, pick the first time offered, and book it over HTTP.
(Owned by the scheduling service's flow.)"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

BOOKING_LINK = re.compile(
    r"(https?://\S+/book/(?P<cycle>[0-9a-f-]{36})/[0-9]+\.[A-Za-z0-9_\-]+)"
)  # <expires>.<signature>
FIRST_SLOT = re.compile(
    r'<input class="nhsuk-radios__input" id="slot-1" name="slot" type="radio" value="([0-9a-f-]{36})"'
)


def booking_link(mail_dir: Path, *, participant_email: str, cycle_id: UUID) -> str | None:
    """The link in the booking email sent to the participant for this cycle, if it has arrived."""
    wanted = participant_email.strip().lower()
    for path in sorted(mail_dir.glob("*.eml"), reverse=True):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if str(message.get("To", "")).strip().lower() != wanted:
            continue
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""  # type: ignore[union-attr]
        for match in BOOKING_LINK.finditer(text):
            if match.group("cycle") == str(cycle_id):
                return match.group(1)
    return None


async def _poll(probe: Any, *, deadline: float, what: str) -> Any:
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.25)
    raise TimeoutError(f"timed out waiting for {what}")


async def book_session(
    http: httpx.AsyncClient,
    *,
    scheduling_url: str,
    mail_dir: Path,
    cycle_id: UUID,
    participant_email: str,
    timeout: float,
    admin_headers: Mapping[str, str],
) -> dict[str, Any]:
    """Book the first offered time from the participant's booking email; return the session as the API shows it."""
    deadline = time.monotonic() + timeout

    async def link() -> str | None:
        return booking_link(mail_dir, participant_email=participant_email, cycle_id=cycle_id)

    url = await _poll(link, deadline=deadline, what="the booking email")
    page = (await http.get(url)).raise_for_status()
    first = FIRST_SLOT.search(page.text)
    if first is None:
        raise RuntimeError(f"the booking page offered no time ({url})")
    chosen = await http.post(url, data={"slot": first.group(1)})
    if chosen.status_code != 303:
        raise RuntimeError(f"booking the first offered time failed with HTTP {chosen.status_code}")

    async def session() -> dict[str, Any] | None:
        response = await http.get(
            f"{scheduling_url}/api/sessions", params={"cycle_id": str(cycle_id)}, headers=admin_headers
        )
        if response.status_code != 200:
            return None
        found: dict[str, Any] = response.json()
        return found

    booked: dict[str, Any] = await _poll(session, deadline=deadline, what="the booked session")
    return booked
