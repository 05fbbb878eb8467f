"""What the demo and e2e journeys read from the local mail sink, as people read their email: the
link a message to someone holds, and waiting until something arrives."""

from __future__ import annotations

import asyncio
import email
import email.policy
import functools
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar
from uuid import UUID

import httpx

T = TypeVar("T")


def plain_text(path: Path) -> tuple[str, str]:
    """The recipient (lower case) and the plain-text body of one message in the sink. Each file is
    parsed once (a sink that has taken thousands of emails is read again on every poll)."""
    status = path.stat()
    return _parsed(path, status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=100_000)
def _parsed(path: Path, size: int, modified: int) -> tuple[str, str]:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""  # type: ignore[union-attr]
    return str(message.get("To", "")).strip().lower(), text


def link_to(mail_dir: Path, recipient: str, pattern: re.Pattern[str], cycle_id: UUID) -> str | None:
    """The newest link matching `pattern` (group 1: the link, group `cycle`: its cycle id) in a message
    to `recipient` about this cycle, if one has arrived."""
    wanted = recipient.strip().lower()
    for path in sorted(mail_dir.glob("*.eml"), reverse=True):
        to, text = plain_text(path)
        if to != wanted:
            continue
        for match in pattern.finditer(text):
            if match.group("cycle") == str(cycle_id):
                return match.group(1)
    return None


async def poll(probe: Callable[[], Awaitable[T | None]], *, timeout: float, what: str) -> T:
    """Ask until `probe` answers; a service that is (re)starting (refused or dropped connection)
    has not answered yet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = await probe()
        except httpx.TransportError:
            value = None
        if value:
            return value
        await asyncio.sleep(0.25)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
