"""Database plumbing: async engine (built in lifespan, never at import), the transactional
outbox and idempotent inbox tables, and the unit of work that ties them to one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from uuid import UUID

from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import Field, SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.contracts.events import Event
from shared.contracts.topics import topic_for
from shared.telemetry import current_trace_headers


def create_engine(url: str, *, pool_size: int = 10, tracer_provider: TracerProvider | None = None) -> AsyncEngine:
    """`hide_parameters`: an error's text never carries the values bound to its statement (names,
    comments), so nothing personal reaches a log or a trace through an exception. With a
    `tracer_provider`, each statement is a client span (the SQL text itself is not exported: ADR 17)."""
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=10, pool_pre_ping=True, hide_parameters=True)
    if tracer_provider is not None:
        # This engine only, with this runtime's provider (SQLAlchemyInstrumentor().instrument would
        # patch every engine of the process, with the first provider it was given).
        tracer = tracer_provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
        connections = NoOpMeterProvider().get_meter(__name__).create_up_down_counter("db.client.connections.usage")
        EngineTracer(tracer, engine.sync_engine, connections)  # type: ignore[no-untyped-call]
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


class OutboxMessage(SQLModel, table=True):
    """An event written in the same transaction as the state change; the relay publishes it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True))
    event_id: UUID = Field(unique=True)
    event_type: str
    topic: str
    key: str
    payload: str = Field(sa_column=Column(Text, nullable=False))
    headers: dict[str, str] = Field(sa_column=Column(JSONB, nullable=False))
    created_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    published_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_column=Column(Text))

    @classmethod
    def from_event(cls, event: Event) -> OutboxMessage:
        return cls(
            event_id=event.event_id,
            event_type=event.event_type,
            topic=topic_for(event),
            key=event.kafka_key().decode(),
            payload=event.model_dump_json(),
            headers={
                **current_trace_headers(),
                "event_type": event.event_type,
                "event_id": str(event.event_id),
                "content-type": "application/json",
            },
        )


class ProcessedEvent(SQLModel, table=True):
    """Inbox: one row per (consumer, event_id) applied, written in the consumer's transaction."""

    __tablename__ = "inbox"

    consumer: str = Field(primary_key=True)
    event_id: UUID = Field(primary_key=True)
    processed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()))


class UnitOfWork:
    """One transaction per use case: state changes, outbox rows and inbox marks commit together."""

    session: AsyncSession

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, on_commit: Callable[[], None] | None = None
    ) -> None:
        self._sessions = sessions
        self._on_commit = on_commit
        self._emitted = 0

    async def __aenter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self._emitted = 0
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.session.rollback()
        await self.session.close()

    def emit(self, event: Event) -> None:
        self.session.add(OutboxMessage.from_event(event))
        self._emitted += 1

    async def first_delivery(self, *, consumer: str, event_id: UUID) -> bool:
        """Mark an incoming event as processed; False if this consumer already applied it."""
        result = await self.session.execute(
            insert(ProcessedEvent)
            .values(consumer=consumer, event_id=event_id)
            .on_conflict_do_nothing()
            .returning(col(ProcessedEvent.event_id))
        )
        return result.first() is not None

    async def commit(self) -> None:
        await self.session.commit()
        if self._emitted and self._on_commit is not None:
            self._on_commit()
        self._emitted = 0

    async def execute(self, statement: Any, params: Any = None) -> Any:
        return await self.session.execute(statement, params)


UnitOfWorkFactory = Callable[[], UnitOfWork]
