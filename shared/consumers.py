"""Typed Kafka consumers: parse each message within limits, apply it once in one transaction, and
classify every failure so that no message can block its partition (docs/adr/0009):

- cannot succeed on retry (undecodable, invalid, rejected): dead-lettered at once;
- an unknown error: retried after a growing pause, dead-lettered at the bound of attempts;
- an outage (PostgreSQL or Kafka unreachable, also while dead-lettering): the message waits, with
  a growing pause, and is redelivered; attempts are not used up and nothing is dead-lettered.

Handlers never raise: FastStream would log every redelivery. Failures are logged once per message
with a traceback that names classes and lines but no messages (they may quote personal data),
then at most once per interval."""

from __future__ import annotations

import asyncio
import errno
import logging
import math
import time
import traceback
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, MessageSizeTooLargeError
from asyncpg.exceptions import (
    InsufficientResourcesError,
    OperatorInterventionError,
    PostgresConnectionError,
)
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from opentelemetry import trace
from sqlalchemy import exc as sa

from shared.contracts import deadletters
from shared.contracts.events import Event
from shared.contracts.topics import DEAD_LETTER_TOPIC, DeadLetterKind, topic_for
from shared.db import UnitOfWork
from shared.errors import Rejected
from shared.inbound import InboundLimits, Undecodable, parse_event, raw_body, readable_headers
from shared.metrics import RetryCause, ServiceMetrics
from shared.telemetry import ATTR_CYCLE_ID, ATTR_EVENT_ID, ATTR_EVENT_TYPE

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
UseCase = Callable[[E, UnitOfWork], Awaitable[None]]

_PAUSE_STEP = 0.25
_FILE_ERRORS = (FileNotFoundError, FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)
_OUTAGES = (
    PostgresConnectionError,
    OperatorInterventionError,
    InsufficientResourcesError,
    sa.OperationalError,
    sa.InterfaceError,
    sa.DisconnectionError,
    sa.TimeoutError,
    KafkaConnectionError,
    KafkaTimeoutError,
    TimeoutError,
)


@dataclass(frozen=True)
class RetryPolicy:
    backoff_seconds: float = 0.2
    backoff_max_seconds: float = 5.0
    max_attempts: int = 5
    outage_pause_max_seconds: float = 30.0
    log_interval_seconds: float = 60.0

    def pause(self, failures: int, *, cause: RetryCause) -> float:
        """Seconds to wait after the `failures`-th failure of this cause: doubling, capped."""
        cap = self.outage_pause_max_seconds if cause == "outage" else self.backoff_max_seconds
        return float(min(self.backoff_seconds * 2 ** min(max(failures, 1) - 1, 32), cap))


@dataclass(frozen=True)
class Verdict:
    """Why a message goes to the dead-letter topic (the reason never quotes the message)."""

    kind: DeadLetterKind
    reason: str


@dataclass
class Failures:
    """What one message has been through; in memory only, so a restart begins again at zero."""

    attempts: int = 0  # errors: the bound dead-letters
    outages: int = 0  # never dead-letter; they only lengthen the pause
    logged_at: float | None = None
    verdict: Verdict | None = None  # decided, but dead-lettering it failed: redelivery sends it


class FailureBook:
    """Failures of the messages being retried, the least recently failed dropped beyond `limit`
    (forgetting only restarts a count: retries grow, nothing is lost)."""

    def __init__(self, limit: int = 1024) -> None:
        self._limit = limit
        self._entries: OrderedDict[str, Failures] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, key: str) -> Failures | None:
        return self._entries.get(key)

    def of(self, key: str) -> Failures:
        failures = self._entries.pop(key, None) or Failures()
        self._entries[key] = failures
        while len(self._entries) > self._limit:
            self._entries.popitem(last=False)
        return failures

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)


def causes(error: BaseException) -> Iterator[BaseException]:
    """`error`, then what it was raised from or during (SQLAlchemy's `orig` included), at most 8."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        current = current.__cause__ or (orig if isinstance(orig, BaseException) else None) or current.__context__


def is_outage(error: BaseException) -> bool:
    """True if the database or Kafka could not be reached: retrying later will work unchanged."""
    for cause in causes(error):
        if isinstance(cause, sa.DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, _OUTAGES):
            return True
        if isinstance(cause, KafkaError) and cause.retriable:
            return True
        if isinstance(cause, OSError) and not isinstance(cause, _FILE_ERRORS):
            return True
    return False


def describe_failure(error: BaseException) -> str:
    """Class names along the chain, with errno codes: never messages (they may quote values)."""
    names = []
    for cause in causes(error):
        name = type(cause).__qualname__
        code = getattr(cause, "errno", None)
        if isinstance(code, int) and code in errno.errorcode:
            name += f" [{errno.errorcode[code]}]"
        names.append(name)
    return " <- ".join(names)[:500]


def safe_traceback(error: BaseException) -> str:
    """Where `error` and its causes were raised (files, lines, code), with class names only."""
    blocks = []
    for cause in reversed(list(causes(error))):
        frames = traceback.format_list(traceback.extract_tb(cause.__traceback__, limit=-40))
        blocks.append("".join(frames) + f"{type(cause).__module__}.{type(cause).__qualname__}\n")
    return "\n".join(blocks)[-20000:]


def coordinates(message: KafkaMessage) -> tuple[str, int, int, bytes | None]:
    raw = message.raw_message
    record = raw[0] if isinstance(raw, tuple) else raw
    return str(record.topic), int(record.partition), int(record.offset), record.key


def copied_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    """The original's headers a dead letter keeps, so a replay can restore them: text ones within
    bounds (shared.contracts.deadletters), never an `x-dead-letter-*` one (they describe this dead letter)."""
    kept: dict[str, str] = {}
    for name, value in headers.items():
        if len(kept) >= deadletters.MAX_COPIED_HEADERS:
            break
        if (
            isinstance(name, str)
            and isinstance(value, str)
            and not name.startswith(deadletters.HEADER_PREFIX)
            and len(name) <= deadletters.MAX_COPIED_HEADER_NAME
            and len(value) <= deadletters.MAX_COPIED_HEADER_VALUE
        ):
            kept[name] = value
    return kept


async def dead_letter(broker: KafkaBroker, message: KafkaMessage, *, consumer: str, verdict: Verdict) -> None:
    """Copy the message unchanged to the dead-letter topic, with its headers (copied_headers) and its
    reason and source in `x-dead-letter-*` headers.
    Raises if Kafka does not take it (the caller keeps the message and tries again)."""
    topic, partition, offset, key = coordinates(message)
    headers = {
        **copied_headers(message.headers),
        "x-dead-letter-reason": verdict.reason[:4000],
        "x-dead-letter-kind": verdict.kind,
        "x-dead-letter-consumer": consumer,
        "x-dead-letter-source-topic": topic,
        "x-dead-letter-source-partition": str(partition),
        "x-dead-letter-source-offset": str(offset),
        "x-dead-letter-at": datetime.now(UTC).isoformat(),
    }
    try:
        await broker.publish(message.body, DEAD_LETTER_TOPIC, key=key, headers=headers)
    except MessageSizeTooLargeError:  # with the headers it no longer fits: the source offset finds it
        headers = {name: value for name, value in headers.items() if name.startswith(deadletters.HEADER_PREFIX)}
        headers["x-dead-letter-body"] = "omitted: too large for the dead-letter topic"
        await broker.publish(b"", DEAD_LETTER_TOPIC, key=key, headers=headers)
    log.warning(
        "event dead-lettered",
        extra={
            "consumer": consumer,
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "kind": verdict.kind,
            "reason": verdict.reason[:500],
        },
    )


async def _pause(seconds: float, *, running: Callable[[], bool]) -> None:
    """Sleep, in short steps: FastStream offers a subscriber's `running` flag but no event to wait
    on, and a stopping service must not wait out a 30 s pause."""
    deadline = time.monotonic() + seconds
    for _ in range(math.ceil(seconds / _PAUSE_STEP)):
        left = deadline - time.monotonic()
        if left <= 0 or not running():
            return
        await asyncio.sleep(min(left, _PAUSE_STEP))


@dataclass(frozen=True)
class Route(Generic[E]):
    """One registered consumer: its name (the Kafka group), event type, use case, and whether its
    subscriber still runs (a pause ends early when the service stops)."""

    consumer: str
    event_type: type[E]
    use_case: UseCase[E]
    running: Callable[[], bool]


class EventConsumers:
    """Registers thin typed handlers: parse within limits -> apply once in one transaction, or
    dead-letter, retry or pause by the kind of failure."""

    def __init__(
        self,
        broker: KafkaBroker,
        *,
        service: str,
        uow: Callable[[], UnitOfWork],
        metrics: ServiceMetrics,
        policy: RetryPolicy | None = None,
        limits: InboundLimits | None = None,
    ) -> None:
        self._metrics = metrics
        self._broker = broker
        self._service = service
        self._uow = uow
        self._policy = policy or RetryPolicy()
        self._limits = limits or InboundLimits()
        self.failures = FailureBook()
        self.groups: list[tuple[str, str]] = []  # (consumer group, topic) of every registered consumer

    def on(self, event_type: type[E], *, name: str) -> Callable[[UseCase[E]], UseCase[E]]:
        consumer = f"{self._service}.{name}"
        self._metrics.register_consumer(consumer)
        self.groups.append((consumer, topic_for(event_type)))

        def register(use_case: UseCase[E]) -> UseCase[E]:
            subscriber = self._broker.subscriber(
                topic_for(event_type),
                group_id=consumer,
                ack_policy=AckPolicy.NACK_ON_ERROR,
                auto_offset_reset="earliest",
                title=f"{consumer}:{event_type.__name__}",
                parser=readable_headers,
                decoder=raw_body,
            )
            route = Route(consumer, event_type, use_case, running=lambda: bool(subscriber.running))

            @subscriber
            async def handle(message: KafkaMessage) -> None:
                await self._handle(message, route)

            return use_case

        return register

    async def _handle(self, message: KafkaMessage, route: Route[Any]) -> None:
        topic, partition, offset, _ = coordinates(message)
        key = f"{route.consumer}/{topic}/{partition}/{offset}"
        try:
            verdict = await self._try(message, route, key)
        except Exception as error:
            verdict = await self._after_failure(message, route, key, error)
            if verdict is None:
                return
        if verdict is not None:
            try:
                await dead_letter(self._broker, message, consumer=route.consumer, verdict=verdict)
            except Exception as error:  # Kafka did not take it: an outage, whatever the error says
                failures = self.failures.of(key)
                failures.verdict = verdict
                failures.outages += 1
                await self._put_back(message, route, failures, error, cause="outage")
                return
            self._metrics.dead_letters.labels(consumer=route.consumer, kind=verdict.kind).inc()
        self.failures.forget(key)

    async def _try(self, message: KafkaMessage, route: Route[E], key: str) -> Verdict | None:
        """Apply the message; returns why it must be dead-lettered instead, or None when done."""
        known = self.failures.peek(key)
        if known is not None and known.verdict is not None:
            return known.verdict
        try:
            event = parse_event(route.event_type, message.body, self._limits)
        except Undecodable as bad:
            return Verdict(bad.kind, bad.reason)
        span = trace.get_current_span()
        span.set_attribute(ATTR_EVENT_TYPE, event.event_type)
        span.set_attribute(ATTR_EVENT_ID, str(event.event_id))
        if (cycle_id := getattr(event, "cycle_id", None)) is not None:
            span.set_attribute(ATTR_CYCLE_ID, str(cycle_id))
        try:
            async with self._uow() as uow:
                first = await uow.first_delivery(consumer=route.consumer, event_id=event.event_id)
                if first:
                    await route.use_case(event, uow)
                await uow.commit()
        except Rejected as rejection:
            return Verdict("rejected", f"rejected: {rejection}")
        counter = self._metrics.events_applied if first else self._metrics.events_duplicate
        counter.labels(consumer=route.consumer, event_type=event.event_type).inc()
        return None

    async def _after_failure(
        self, message: KafkaMessage, route: Route[Any], key: str, error: Exception
    ) -> Verdict | None:
        """An outage or an error below the bound: wait, put the message back, return None. An error
        at the bound: the verdict to dead-letter."""
        failures = self.failures.of(key)
        self._metrics.processing_failures.labels(consumer=route.consumer).inc()
        if is_outage(error):
            failures.outages += 1
            await self._put_back(message, route, failures, error, cause="outage")
            return None
        failures.attempts += 1
        if failures.attempts >= self._policy.max_attempts:
            self._log_failure(message, route, failures, error, cause="error")
            reason = f"processing failed after {failures.attempts} attempts: {describe_failure(error)}"
            return Verdict("failed", reason)
        await self._put_back(message, route, failures, error, cause="error")
        return None

    async def _put_back(
        self, message: KafkaMessage, route: Route[Any], failures: Failures, error: Exception, *, cause: RetryCause
    ) -> None:
        """Log (bounded), wait the pause for this cause, then NACK: Kafka redelivers the message."""
        self._metrics.consumer_retries.labels(consumer=route.consumer, cause=cause).inc()
        self._log_failure(message, route, failures, error, cause=cause)
        count = failures.outages if cause == "outage" else failures.attempts
        await _pause(self._policy.pause(count, cause=cause), running=route.running)
        await message.nack()

    def _log_failure(
        self, message: KafkaMessage, route: Route[Any], failures: Failures, error: Exception, *, cause: RetryCause
    ) -> None:
        now = time.monotonic()
        first = failures.logged_at is None
        if not first and now - (failures.logged_at or now) < self._policy.log_interval_seconds:
            return
        failures.logged_at = now
        topic, partition, offset, _ = coordinates(message)
        extra: dict[str, object] = {
            "consumer": route.consumer,
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "cause": cause,
            "attempts": failures.attempts,
            "outages": failures.outages,
            "error": describe_failure(error),
        }
        if first:
            extra["traceback"] = safe_traceback(error)
        what = "database or Kafka unreachable; event paused" if cause == "outage" else "event processing failed"
        log.log(logging.ERROR if first else logging.WARNING, what if first else f"{what} (still)", extra=extra)
