"""The public routes' rate limits (issue 12): per client address per hour and per participant
mailbox per day, in the service's shared counters (shared.ratelimit, docs/adr/0023), so every
instance shares them; the table holds keyed hashes, never an address."""

from __future__ import annotations

from datetime import datetime

from invitations.config import Settings
from invitations.domain import mailbox_key
from shared.ratelimit import Counters, Limit

HOUR, DAY = 3600, 86400


def per_client(settings: Settings) -> Limit:
    return Limit.per("public-request-client", hits=settings.public_requests_per_client_per_hour, seconds=HOUR)


def per_participant(settings: Settings) -> Limit:
    return Limit.per("public-request-participant", hits=settings.public_requests_per_participant_per_day, seconds=DAY)


async def may_ask(
    counters: Counters, *, client: str, participant_email: str, settings: Settings, now: datetime | None = None
) -> bool:
    """Count one request against the client's and (if the client may ask) the participant's limit;
    a refused try counts too. True if both allow it."""
    if not await counters.allow(per_client(settings), client, now=now):
        return False
    return await counters.allow(per_participant(settings), mailbox_key(participant_email), now=now)
