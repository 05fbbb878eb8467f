"""How the participant's feedback session gets booked in the demo and e2e journeys, as a participant
does it: open the booking email, follow its link, pick the first time offered, and book it over HTTP.
(Owned by the scheduling service's flow.)"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from deploy.demo.mailbox import link_to, poll

BOOKING_LINK = re.compile(r"(https?://\S+/book/(?P<cycle>[0-9a-f-]{36})/[A-Za-z0-9_.\-]+)")
FIRST_SLOT = re.compile(
    r'<input class="nhsuk-radios__input" id="slot-1" name="slot" type="radio" value="([0-9a-f-]{36})"'
)


def booking_link(mail_dir: Path, *, participant_email: str, cycle_id: UUID) -> str | None:
    """The link in the booking email sent to the participant for this cycle, if it has arrived."""
    return link_to(mail_dir, participant_email, BOOKING_LINK, cycle_id)


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

    async def link() -> str | None:
        return booking_link(mail_dir, participant_email=participant_email, cycle_id=cycle_id)

    url = await poll(link, timeout=timeout, what="the booking email")
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

    booked: dict[str, Any] = await poll(session, timeout=timeout, what="the booked session")
    return booked
