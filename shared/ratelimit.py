"""Rate limits every instance of a service shares (docs/adr/0023): each try is counted in the
service's own `rate_limit` table, in a short transaction of its own, by one atomic
`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, so instances running side by side never admit more
than the limit between them. A row is one limit and one subject (a client address, a link), under a
keyed hash of both: the table holds no address and no token.

Sliding-window counters: a row keeps the hits of the current fixed window and of the one before;
the estimate weighs the previous window by how much of it still lies within one window of now.
Every try counts, refused ones too, so a client that keeps hammering stays refused."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, case, delete, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.sql.dml import ReturningInsert
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.links import signature
from shared.settings import LinkSettings, ServiceSettings

log = logging.getLogger(__name__)

TABLE = "rate_limit"
_KEY_LABEL = b"hlm360 rate-limit counters"


@dataclass(frozen=True)
class Limit:
    """At most `hits` tries per subject in any window of `seconds` (a sliding-window estimate).
    `name` tells the limit apart in the table and in logs; it never holds anything about the subject."""

    name: str
    hits: int
    seconds: int

    def __post_init__(self) -> None:
        if self.hits < 1 or self.seconds < 1:
            raise ValueError("a limit allows at least one try in a window of at least one second")

    @classmethod
    def per(cls, name: str, *, hits: int, seconds: float) -> Limit:
        """A limit whose window is given in seconds, rounded to a whole number of them."""
        return cls(name=name, hits=hits, seconds=round(seconds))

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.seconds)


def window_start(moment: datetime, limit: Limit) -> datetime:
    """The start of the fixed window (whole multiples of its length since the epoch) holding `moment`."""
    return datetime.fromtimestamp(int(moment.timestamp()) // limit.seconds * limit.seconds, UTC)


def estimate(*, hits: int, previous_hits: int, elapsed: timedelta, window: timedelta) -> float:
    """Tries within one window of now: this window's, plus the previous window's in the share of it
    that is still within reach. `elapsed`: time since this window began (below 0: an instance whose
    clock lags another's, which counts the previous window in full)."""
    share = min(max(elapsed / window, 0.0), 1.0)
    return hits + previous_hits * (1.0 - share)


def counter_key(settings: ServiceSettings) -> bytes:
    """The key of the counters' hashes, the same in every instance and never stored: derived from
    the service's link secret, or (ratings signs no links) from its database password."""
    if isinstance(settings, LinkSettings):
        material = settings.link_secret.get_secret_value()
    else:
        material = make_url(settings.database_url.get_secret_value()).password or ""
    if not material:
        raise ValueError(f"{settings.service_name}: rate-limit counters need a link secret or a database password")
    return hmac.new(material.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _table(schema: str) -> Table:
    """The table as shared.migrations.create_rate_limit_table makes it, in the service's schema."""
    return Table(
        TABLE,
        MetaData(),
        Column("key", String(64), primary_key=True),
        Column("window_start", DateTime(timezone=True), nullable=False),
        Column("hits", Integer, nullable=False),
        Column("previous_hits", Integer, nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
        schema=schema,
    )


def _count(table: Table, *, key: str, start: datetime, limit: Limit) -> ReturningInsert[tuple[int, int, datetime]]:
    """One try: a new row, or the row's window moved on (the hits before become the previous
    window's, if it was the one just before) and counted. Whichever instance's clock is ahead moves
    the window on (GREATEST); one that lags counts into the newer window rather than restart the old."""
    new = insert(table).values(
        key=key, window_start=start, hits=1, previous_hits=0, expires_at=start + 2 * limit.window
    )
    same_or_newer = table.c.window_start >= new.excluded.window_start
    return new.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "hits": case((same_or_newer, table.c.hits + 1), else_=1),
            "previous_hits": case(
                (same_or_newer, table.c.previous_hits),
                (table.c.window_start == start - limit.window, table.c.hits),
                else_=0,
            ),
            "window_start": func.greatest(table.c.window_start, new.excluded.window_start),
            "expires_at": func.greatest(table.c.expires_at, new.excluded.expires_at),
        },
    ).returning(table.c.hits, table.c.previous_hits, table.c.window_start)


class Counters:
    """The service's shared counts (one table in its own schema), keyed with `key`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, schema: str, key: bytes) -> None:
        if not key:
            raise ValueError("the counters need a key")
        self._sessions = sessions
        self._schema = schema
        self._key = key
        self._table = _table(schema)

    def stored_key(self, limit: Limit, subject: str) -> str:
        """The row's key: an HMAC of the service, the limit (name and window) and the subject."""
        return signature(self._key, self._schema, limit.name, limit.seconds, subject)

    async def allow(self, limit: Limit, subject: str, *, now: datetime | None = None) -> bool:
        """Count one try by `subject` (committed at once, whatever the answer); True if within the limit."""
        moment = now or datetime.now(UTC)
        count = _count(self._table, key=self.stored_key(limit, subject), start=window_start(moment, limit), limit=limit)
        async with self._sessions() as session:
            hits, previous_hits, current_start = (await session.execute(count)).one()
            await session.commit()
        tries = estimate(hits=hits, previous_hits=previous_hits, elapsed=moment - current_start, window=limit.window)
        if tries > limit.hits:
            log.info("rate limit reached", extra={"limit": limit.name})
            return False
        return True

    async def forget_expired(self, *, now: datetime | None = None) -> int:
        """Delete the rows no decision needs any more (their previous window is out of reach too)."""
        async with self._sessions() as session:
            expired = delete(self._table).where(self._table.c.expires_at <= (now or datetime.now(UTC)))
            result = await session.execute(expired)
            await session.commit()
        return int(getattr(result, "rowcount", 0) or 0)
