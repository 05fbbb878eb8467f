"""The public routes' rate limits (issue 12), counted in PostgreSQL so that every instance of the
service shares them: per client address per hour and per participant mailbox per day, in fixed
windows. Keys are keyed hashes (HMAC with the link secret), so the table holds no address."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, text
from sqlmodel import col

from invitations.config import Settings
from invitations.domain import mailbox_key
from invitations.tables import RequestAllowance
from shared.db import UnitOfWork

log = logging.getLogger(__name__)

_COUNT = text(
    "INSERT INTO invitations.request_allowance AS a (key, window_start, hits) VALUES (:key, :window, 1) "
    "ON CONFLICT (key) DO UPDATE SET "
    "hits = CASE WHEN a.window_start = EXCLUDED.window_start THEN a.hits + 1 ELSE 1 END, "
    "window_start = EXCLUDED.window_start "
    "RETURNING hits"
)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def _window(now: datetime, length: timedelta) -> datetime:
    """The start of the fixed window holding `now`."""
    seconds = int(length.total_seconds())
    return datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, UTC)


async def _count(uow: UnitOfWork, key: str, *, window: datetime) -> int:
    return int((await uow.session.execute(_COUNT, {"key": key, "window": window})).scalar_one())


async def may_ask(
    uow: UnitOfWork, *, client: str, participant_email: str, settings: Settings, now: datetime | None = None
) -> bool:
    """Count one request against the client's and (if the client may ask) the participant's limit;
    a refused try counts too. True if both allow it. The caller commits, whatever the answer."""
    moment = now or datetime.now(UTC)
    keys = settings.signing_keys()
    by_client = keys.sign("invitations", "allowance", "client", client)
    if await _count(uow, by_client, window=_window(moment, HOUR)) > settings.public_requests_per_client_per_hour:
        log.warning("public request refused: too many from one client")
        return False
    by_participant = keys.sign("invitations", "allowance", "participant", mailbox_key(participant_email))
    if (
        await _count(uow, by_participant, window=_window(moment, DAY))
        > settings.public_requests_per_participant_per_day
    ):
        log.warning("public request refused: too many for one participant")
        return False
    return True


async def forget_old_allowances(uow: UnitOfWork, *, now: datetime | None = None) -> int:
    """Drop counts whose window ended (the longest window is a day)."""
    cutoff = (now or datetime.now(UTC)) - DAY
    result = await uow.session.execute(delete(RequestAllowance).where(col(RequestAllowance.window_start) < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
