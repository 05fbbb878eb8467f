"""Kafka plumbing every service uses: the broker factory, typed consumers that dead-letter bad
input and apply each event once, the outbox relay, and topic administration."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from pydantic import ValidationError
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.contracts.events import Event
from shared.contracts.topics import ALL_TOPICS, DEAD_LETTER_TOPIC, PARTITIONS, topic_for
from shared.db import OutboxMessage, UnitOfWork
from shared.errors import Rejected
from shared.metrics import ServiceMetrics
from shared.telemetry import ATTR_CYCLE_ID, ATTR_EVENT_ID, ATTR_EVENT_TYPE, ATTR_OUTBOX_BATCH

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
UseCase = Callable[[E, UnitOfWork], Awaitable[None]]

MAX_PROCESSING_ATTEMPTS = 5
OUTBOX_LOCK_KEY = 0x686C6D333630  # "hlm360": one active relay per service database keeps key order


def build_broker(
    *, bootstrap_servers: str, service: str, tracer_provider: TracerProvider, metrics: ServiceMetrics
) -> KafkaBroker:
    return KafkaBroker(
        bootstrap_servers,
        client_id=f"hlm360-{service}",
        acks="all",
        enable_idempotence=True,
        middlewares=(
            KafkaTelemetryMiddleware(tracer_provider=tracer_provider),
            KafkaPrometheusMiddleware(registry=metrics.registry, app_name=f"hlm360-{service}"),
        ),
        logger=logging.getLogger(f"hlm360.{service}.broker"),
        graceful_timeout=15.0,
    )


def validation_reason(error: ValidationError) -> str:
    """Human-readable reason without echoing input values (they may hold personal data)."""
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        location = ".".join(str(p) for p in item["loc"]) or "(message)"
        parts.append(f"{location}: {item['msg']}")
    return "invalid event: " + "; ".join(parts)


async def dead_letter(
    broker: KafkaBroker,
    message: KafkaMessage,
    *,
    consumer: str,
    reason: str,
    metrics: ServiceMetrics | None = None,
    kind: str = "invalid",
) -> None:
    raw = message.raw_message
    record = raw[0] if isinstance(raw, tuple) else raw
    headers = {
        "x-dead-letter-reason": reason[:4000],
        "x-dead-letter-consumer": consumer,
        "x-dead-letter-source-topic": str(record.topic),
        "x-dead-letter-source-partition": str(record.partition),
        "x-dead-letter-source-offset": str(record.offset),
        "x-dead-letter-at": datetime.now(UTC).isoformat(),
    }
    await broker.publish(message.body, DEAD_LETTER_TOPIC, key=record.key, headers=headers)
    if metrics is not None:
        metrics.dead_letters.labels(consumer=consumer, kind=kind).inc()
    log.warning(
        "event dead-lettered",
        extra={"consumer": consumer, "topic": record.topic, "offset": record.offset, "reason": reason[:500]},
    )


class EventConsumers:
    """Registers thin typed handlers: validate -> (dead-letter | apply once in one transaction)."""

    def __init__(
        self,
        broker: KafkaBroker,
        *,
        service: str,
        uow: Callable[[], UnitOfWork],
        metrics: ServiceMetrics,
        retry_backoff_seconds: float = 1.0,
    ) -> None:
        self._metrics = metrics
        self._broker = broker
        self._service = service
        self._uow = uow
        self._backoff = retry_backoff_seconds
        self._attempts: dict[str, int] = {}

    def on(self, event_type: type[E], *, name: str) -> Callable[[UseCase[E]], UseCase[E]]:
        consumer = f"{self._service}.{name}"

        def register(use_case: UseCase[E]) -> UseCase[E]:
            @self._broker.subscriber(
                topic_for(event_type),
                group_id=consumer,
                ack_policy=AckPolicy.NACK_ON_ERROR,
                auto_offset_reset="earliest",
                title=f"{consumer}:{event_type.__name__}",
            )
            async def handle(message: KafkaMessage) -> None:
                await self._handle(message, event_type=event_type, consumer=consumer, use_case=use_case)

            return use_case

        return register

    async def _handle(
        self, message: KafkaMessage, *, event_type: type[E], consumer: str, use_case: UseCase[E]
    ) -> None:
        try:
            event = event_type.model_validate_json(message.body)
        except ValidationError as error:
            await dead_letter(
                self._broker, message, consumer=consumer, reason=validation_reason(error), metrics=self._metrics
            )
            return
        span = trace.get_current_span()
        span.set_attribute(ATTR_EVENT_TYPE, event.event_type)
        span.set_attribute(ATTR_EVENT_ID, str(event.event_id))
        if (cycle_id := getattr(event, "cycle_id", None)) is not None:
            span.set_attribute(ATTR_CYCLE_ID, str(cycle_id))
        attempt_key = f"{consumer}/{event.event_id}"
        try:
            async with self._uow() as uow:
                first = await uow.first_delivery(consumer=consumer, event_id=event.event_id)
                if first:
                    await use_case(event, uow)
                await uow.commit()
            counter = self._metrics.events_applied if first else self._metrics.events_duplicate
            counter.labels(consumer=consumer, event_type=event.event_type).inc()
        except Rejected as rejection:
            await dead_letter(
                self._broker,
                message,
                consumer=consumer,
                reason=f"rejected: {rejection}",
                metrics=self._metrics,
                kind="rejected",
            )
        except Exception as error:
            attempts = self._attempts.get(attempt_key, 0) + 1
            self._attempts[attempt_key] = attempts
            self._metrics.processing_failures.labels(consumer=consumer).inc()
            log.exception(
                "event processing failed",
                extra={"consumer": consumer, "event_id": str(event.event_id), "attempt": attempts},
            )
            if attempts >= MAX_PROCESSING_ATTEMPTS:
                self._attempts.pop(attempt_key, None)
                reason = f"processing failed after {attempts} attempts: {type(error).__name__}"
                await dead_letter(
                    self._broker, message, consumer=consumer, reason=reason, metrics=self._metrics, kind="failed"
                )
                return
            await asyncio.sleep(self._backoff * attempts)
            raise
        self._attempts.pop(attempt_key, None)


class OutboxPublishFailed(Exception):
    """An outbox row could not be published; it and the rows after it wait (the cause is chained)."""

    def __init__(self, outbox_id: int | None, event_type: str, topic: str) -> None:
        super().__init__(f"outbox row {outbox_id} ({event_type}) could not be published to {topic}")
        self.outbox_id, self.event_type, self.topic = outbox_id, event_type, topic


def describe_error(error: BaseException | None) -> str:
    """An error for a log line or the outbox's last_error: class and Kafka's message, bounded."""
    if error is None:
        return "unknown"
    return f"{type(error).__name__}: {error}"[:500]


class OutboxRelay:
    """Publishes committed outbox rows in id order and marks them published."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        broker: KafkaBroker,
        *,
        poll_seconds: float = 0.5,
        batch_size: int = 500,
        metrics: ServiceMetrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._sessions = sessions
        self._broker = broker
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._wakeup = asyncio.Event()
        self._tracer = trace.get_tracer(__name__)

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        task = asyncio.current_task()
        while task is None or not task.cancelling():
            try:
                published = await self.publish_batch()
            except asyncio.CancelledError:
                raise
            except OutboxPublishFailed as failed:
                log.error("outbox relay batch failed; will retry",  # ids only: the payload may name people
                          extra={"outbox_id": failed.outbox_id, "event_type": failed.event_type,
                                 "topic": failed.topic, "error": describe_error(failed.__cause__)})
                published = 0
                await asyncio.sleep(self._poll_seconds * 4)
            except Exception:
                log.exception("outbox relay batch failed; will retry")
                published = 0
                await asyncio.sleep(self._poll_seconds * 4)
            if published:
                continue
            self._wakeup.clear()
            # asyncio.timeout, not wait_for: wait_for can swallow a cancellation that races its timeout.
            with suppress(TimeoutError):
                async with asyncio.timeout(self._poll_seconds):
                    await self._wakeup.wait()

    async def publish_batch(self) -> int:
        """Publish the oldest unpublished rows; returns how many went.

        If a row fails, the rows before it are marked published, and it records the attempt and the
        error (class and Kafka's message: never the payload) so operators can see which event is
        stuck; it and the rows after it wait, in order. Then OutboxPublishFailed is raised and run()
        retries after a pause."""
        stuck: tuple[OutboxMessage, BaseException] | None = None
        async with self._sessions() as session, session.begin():
            locked = (await session.execute(select(func.pg_try_advisory_xact_lock(OUTBOX_LOCK_KEY)))).scalar()
            if not locked:
                return 0
            rows = (
                await session.execute(
                    select(OutboxMessage)
                    .where(OutboxMessage.published_at.is_(None))  # type: ignore[union-attr]
                    .order_by(OutboxMessage.id)  # type: ignore[arg-type]
                    .limit(self._batch_size)
                )
            ).scalars().all()
            if not rows:
                return 0
            sent, stuck = await self._send_in_order(rows)
            if sent:
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_([row.id for row in sent]))  # type: ignore[union-attr]
                    .values(published_at=func.now(), attempts=OutboxMessage.attempts + 1, last_error=None)
                )
            if stuck is not None:
                row, error = stuck
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == row.id)  # type: ignore[arg-type]
                    .values(attempts=OutboxMessage.attempts + 1, last_error=describe_error(error))
                )
            trace.get_current_span().set_attribute(ATTR_OUTBOX_BATCH, len(sent))
        if self._metrics is not None:
            self._metrics.outbox_published.inc(len(sent))
            if stuck is not None:
                self._metrics.outbox_publish_failures.labels(event_type=stuck[0].event_type).inc()
        if stuck is not None:
            row, error = stuck
            raise OutboxPublishFailed(row.id, row.event_type, row.topic) from error
        return len(sent)

    async def _send_in_order(
        self, rows: Sequence[OutboxMessage]
    ) -> tuple[list[OutboxMessage], tuple[OutboxMessage, BaseException] | None]:
        """Send all rows (the producer batches them), then wait for every acknowledgement. Returns the
        rows before the first failure, and that failure. Rows after it that Kafka did take are sent
        again next time: delivery is at least once and consumers drop duplicates."""
        acknowledgements: list[Any] = []
        stuck: tuple[OutboxMessage, BaseException] | None = None
        for row in rows:
            try:
                acknowledgements.append(await self._send(row))
            except Exception as error:  # refused before sending, e.g. too large or no such topic
                stuck = (row, error)
                break
        results = await asyncio.gather(*acknowledgements, return_exceptions=True)
        sent: list[OutboxMessage] = []
        for row, result in zip(rows, results, strict=False):
            if isinstance(result, BaseException):
                return sent, (row, result)
            sent.append(row)
        return sent, stuck

    async def sample_backlog(self) -> None:
        """Update the outbox backlog gauges (called at scrape time)."""
        if self._metrics is None:
            return
        async with self._sessions() as session:
            row = (
                await session.execute(
                    text(
                        "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0) "
                        "FROM outbox WHERE published_at IS NULL"
                    )
                )
            ).one()
        self._metrics.outbox_pending.set(row[0])
        self._metrics.outbox_oldest_pending_seconds.set(float(row[1]))

    async def _send(self, row: OutboxMessage) -> Any:
        context = propagate.extract(row.headers)
        with self._tracer.start_as_current_span(
            f"outbox {row.topic}", context=context, kind=trace.SpanKind.PRODUCER
        ) as span:
            span.set_attribute(ATTR_EVENT_TYPE, row.event_type)
            span.set_attribute(ATTR_EVENT_ID, str(row.event_id))
            headers = {k: v for k, v in row.headers.items() if k not in ("traceparent", "tracestate")}
            return await self._broker.publish(
                row.payload.encode(), row.topic, key=row.key.encode(), headers=headers, no_confirm=True
            )


async def ensure_topics(bootstrap_servers: str, topics: tuple[str, ...] = ALL_TOPICS) -> list[str]:
    """Create missing topics (idempotent); returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="hlm360-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        created: list[str] = []
        for name in missing:
            try:
                await admin.create_topics([NewTopic(name=name, num_partitions=PARTITIONS, replication_factor=1)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        await admin.close()
