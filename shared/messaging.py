"""Kafka plumbing every service uses: the broker factory, the outbox relay, and topic
administration. The typed consumers are in shared.consumers, bounded parsing in shared.inbound."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram512
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.contracts.topics import ALL_TOPICS, PARTITIONS, TOPIC_CONFIGS
from shared.db import OutboxMessage
from shared.inbound import raw_body, readable_headers
from shared.inbound import validation_reason as validation_reason  # its old home: callers import it here
from shared.metrics import ServiceMetrics
from shared.settings import KafkaClientSettings
from shared.telemetry import ATTR_EVENT_ID, ATTR_EVENT_TYPE, ATTR_OUTBOX_BATCH

log = logging.getLogger(__name__)

OUTBOX_LOCK_KEY = 0x686C6D333630  # "hlm360": one active relay per service database keeps key order


def _tls_context(access: KafkaClientSettings) -> ssl.SSLContext | None:
    return ssl.create_default_context(cafile=access.kafka_ca_file) if access.kafka_tls else None


def client_options(access: KafkaClientSettings) -> dict[str, Any]:
    """Keyword arguments for an aiokafka client (producer, consumer, admin) of `access`: where the
    brokers are, and the SASL login and TLS it connects with."""
    options: dict[str, Any] = {"bootstrap_servers": access.kafka_bootstrap_servers}
    tls = _tls_context(access)
    if tls is not None:
        options["ssl_context"] = tls
    if access.kafka_username is None or access.kafka_password is None:
        options["security_protocol"] = "SSL" if tls else "PLAINTEXT"
        return options
    return options | {
        "security_protocol": "SASL_SSL" if tls else "SASL_PLAINTEXT",
        "sasl_mechanism": access.kafka_sasl_mechanism,
        "sasl_plain_username": access.kafka_username,
        "sasl_plain_password": access.kafka_password.get_secret_value(),
    }


def broker_security(access: KafkaClientSettings) -> BaseSecurity | None:
    """The same login for a FastStream broker."""
    tls = _tls_context(access)
    if access.kafka_username is None or access.kafka_password is None:
        return BaseSecurity(ssl_context=tls, use_ssl=True) if tls else None
    kind = SASLPlaintext if access.kafka_sasl_mechanism == "PLAIN" else SASLScram512
    return kind(
        username=access.kafka_username,
        password=access.kafka_password.get_secret_value(),
        ssl_context=tls,
        use_ssl=tls is not None,
    )


def build_broker(
    *, access: KafkaClientSettings, service: str, tracer_provider: TracerProvider, metrics: ServiceMetrics
) -> KafkaBroker:
    return KafkaBroker(
        access.kafka_bootstrap_servers,
        security=broker_security(access),
        client_id=f"hlm360-{service}",
        acks="all",
        enable_idempotence=True,
        middlewares=(
            KafkaTelemetryMiddleware(tracer_provider=tracer_provider),
            KafkaPrometheusMiddleware(registry=metrics.registry, app_name=f"hlm360-{service}"),
        ),
        logger=logging.getLogger(f"hlm360.{service}.broker"),
        graceful_timeout=15.0,
        # Every subscriber: bodies stay bytes (parsed within limits by shared.inbound), and headers
        # that are not UTF-8 are read, not fatal.
        parser=readable_headers,
        decoder=raw_body,
    )


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
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self._metrics = metrics
        self._sessions = sessions
        self._broker = broker
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._wakeup = asyncio.Event()
        self._tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)

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
                log.error(
                    "outbox relay batch failed; will retry",  # ids only: the payload may name people
                    extra={
                        "outbox_id": failed.outbox_id,
                        "event_type": failed.event_type,
                        "topic": failed.topic,
                        "error": describe_error(failed.__cause__),
                    },
                )
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
                (
                    await session.execute(
                        select(OutboxMessage)
                        .where(OutboxMessage.published_at.is_(None))  # type: ignore[union-attr]
                        .order_by(OutboxMessage.id)  # type: ignore[arg-type]
                        .limit(self._batch_size)
                    )
                )
                .scalars()
                .all()
            )
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


async def ensure_topics(options: dict[str, Any], topics: tuple[str, ...] = ALL_TOPICS) -> list[str]:
    """Create missing topics (idempotent); returns the names created. `options`: `client_options`
    of a principal that may create topics (the operators')."""
    admin = AIOKafkaAdminClient(**options, client_id="hlm360-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        created: list[str] = []
        for name in missing:
            try:
                configs = TOPIC_CONFIGS.get(name, {})
                topic = NewTopic(name=name, num_partitions=PARTITIONS, replication_factor=1, topic_configs=configs)
                await admin.create_topics([topic])
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        await admin.close()
