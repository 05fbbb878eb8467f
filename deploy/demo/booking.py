"""How the participant's feedback session gets booked in the demo and e2e journeys
(owned by the scheduling service's flow)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx


async def book_session(
    http: httpx.AsyncClient,
    *,
    scheduling_url: str,
    mail_dir: Path,
    cycle_id: UUID,
    participant_email: str,
    timeout: float,
) -> dict[str, Any]:
    """Wait until the cycle's feedback session is booked; return it as the scheduling API shows it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = await http.get(f"{scheduling_url}/api/sessions", params={"cycle_id": str(cycle_id)})
        if response.status_code == 200:
            session: dict[str, Any] = response.json()
            return session
        await asyncio.sleep(0.25)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for the booked feedback session")
