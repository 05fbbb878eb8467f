"""The runtime every service process is built from: settings -> broker, database, outbox relay,
background jobs and an HTTP app whose lifespan starts and stops them in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request, Response
from opentelemetry import trace
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.consumer_lag import ConsumerLag
from shared.consumers import EventConsumers, RetryPolicy
from shared.db import UnitOfWork, create_engine, session_factory
from shared.inbound import InboundLimits
from shared.logging import configure_logging
from shared.messaging import OutboxRelay, build_broker, client_options
from shared.metrics import ServiceMetrics
from shared.ratelimit import Counters, counter_key
from shared.settings import ServiceSettings
from shared.telemetry import build_tracer_provider
from shared.web import SecurityHeaders, mount_assets
from shared.web.errors import install_error_handlers
from shared.web.limits import BodySizeLimit
from shared.web.tracing import instrument_app

log = logging.getLogger(__name__)

Job = Callable[["ServiceRuntime"], Awaitable[Any]]


class ServiceRuntime:
    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.name = settings.service_name
        self.tracer_provider = build_tracer_provider(self.name, otlp_endpoint=settings.otlp_endpoint)
        self.metrics = ServiceMetrics(self.name)
        self.broker = build_broker(
            access=settings,
            service=self.name,
            tracer_provider=self.tracer_provider,
            metrics=self.metrics,
        )
        self.consumers = EventConsumers(
            self.broker,
            service=settings.consumer_group_prefix or self.name,
            uow=self.uow,
            metrics=self.metrics,
            policy=RetryPolicy(
                backoff_seconds=settings.consumer_retry_backoff_seconds,
                backoff_max_seconds=settings.consumer_retry_backoff_max_seconds,
                max_attempts=settings.consumer_max_attempts,
                outage_pause_max_seconds=settings.consumer_outage_pause_max_seconds,
                log_interval_seconds=settings.consumer_failure_log_interval_seconds,
            ),
            limits=InboundLimits(
                max_bytes=settings.consumer_max_message_bytes, max_depth=settings.consumer_max_json_depth
            ),
        )
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._counters: Counters | None = None
        self._relay: OutboxRelay | None = None
        self._lag: ConsumerLag | None = None
        self._jobs: list[tuple[str, float, Job]] = []
        self._samplers: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        if self._sessions is None:
            raise RuntimeError("service not started")
        return self._sessions

    @property
    def counters(self) -> Counters:
        """The rate-limit counts every instance of the service shares (shared.ratelimit)."""
        if self._counters is None:
            raise RuntimeError("service not started")
        return self._counters

    def uow(self) -> UnitOfWork:
        relay = self._relay
        return UnitOfWork(self.sessions, on_commit=relay.wake if relay else None)

    def sample_at_scrape(self, sampler: Callable[[], Awaitable[None]]) -> None:
        """Run `sampler` (e.g. count a backlog into a gauge) each time /metrics is scraped."""
        self._samplers.append(sampler)

    def every(self, seconds: float, *, name: str) -> Callable[[Job], Job]:
        """Run a background job periodically while the service is up."""

        def register(job: Job) -> Job:
            self._jobs.append((name, seconds, job))
            return job

        return register

    async def start(self) -> None:
        counter_secret = counter_key(self.settings)  # before connecting: a missing secret stops the start
        self._engine = create_engine(
            self.settings.database_url.get_secret_value(), tracer_provider=self.tracer_provider
        )
        self._sessions = session_factory(self._engine)
        self._counters = Counters(self._sessions, schema=self.name, key=counter_secret)
        self._relay = OutboxRelay(
            self._sessions,
            self.broker,
            poll_seconds=self.settings.outbox_poll_seconds,
            metrics=self.metrics,
            tracer_provider=self.tracer_provider,
        )
        settings = self.settings
        if settings.run_consumers:
            await self.broker.start()  # connects, then starts every subscriber
        else:
            await self.broker.connect()  # publishing and health checks only
        if settings.run_outbox_relay:
            self._tasks.append(asyncio.create_task(self._relay.run(), name="outbox-relay"))
        jobs = list(self._jobs) if settings.run_jobs else []
        if settings.run_consumers and self.consumers.groups and settings.consumer_lag_poll_seconds > 0:
            self._lag = ConsumerLag(client_options(settings), self.consumers.groups, self.metrics)
            jobs.append(("consumer-lag", settings.consumer_lag_poll_seconds, self._sample_lag))
        for name, seconds, job in jobs:
            self.metrics.register_job(name, interval_seconds=seconds)
            self._tasks.append(asyncio.create_task(self._repeat(name, seconds, job), name=name))
        log.info(
            "service started",
            extra={
                "jobs": [n for n, _, _ in jobs],
                "consumers": settings.run_consumers,
                "relay": settings.run_outbox_relay,
            },
        )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        # A job that swallows its cancellation must not hang shutdown: give up on it after a grace period.
        done, pending = await asyncio.wait(self._tasks, timeout=10) if self._tasks else (set(), set())
        for task in pending:
            log.error("background task did not stop in time", extra={"task": task.get_name()})
        for task in done:
            with suppress(asyncio.CancelledError):
                task.result()
        self._tasks.clear()
        if self._lag is not None:
            await self._lag.close()
            self._lag = None
        await self.broker.stop()
        if self._engine is not None:
            await self._engine.dispose()
        self._stop_tracing()
        log.info("service stopped")

    def _stop_tracing(self) -> None:
        """Send the last spans; the process's global provider is shut down at exit (library spans)."""
        if self.tracer_provider is trace.get_tracer_provider():
            self.tracer_provider.force_flush(timeout_millis=5000)
        else:
            self.tracer_provider.shutdown()

    @staticmethod
    async def _sample_lag(runtime: ServiceRuntime) -> None:
        if runtime._lag is not None:
            await runtime._lag.sample()

    async def _repeat(self, name: str, seconds: float, job: Job) -> None:
        # No span per tick (idle ticks would flood the traces); jobs open spans for real work.
        task = asyncio.current_task()
        while task is None or not task.cancelling():
            try:
                await job(self)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background job failed", extra={"job": name})
                self.metrics.background_job_runs.labels(task=name, outcome="failed").inc()
            else:
                self.metrics.background_job_runs.labels(task=name, outcome="ok").inc()
                self.metrics.background_job_last_success.labels(task=name).set_to_current_time()
            await asyncio.sleep(seconds)

    async def healthy(self) -> bool:
        try:
            async with self.sessions() as session:
                await session.execute(text("SELECT 1"))
            return bool(await self.broker.ping(timeout=2.0))
        except Exception:
            return False

    def http_app(self, *routers: APIRouter, title: str) -> FastAPI:
        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        app = FastAPI(title=title, lifespan=lifespan, docs_url=None, redoc_url=None)
        app.state.runtime = self
        # Added first, so it runs inside SecurityHeaders and its 413/400 answers get the headers too.
        app.add_middleware(BodySizeLimit, max_bytes=self.settings.http_max_body_bytes)
        app.add_middleware(SecurityHeaders, hsts=self.settings.on_https)
        install_error_handlers(app)
        mount_assets(app)
        instrument_app(app, self.tracer_provider)

        @app.get("/metrics", include_in_schema=False)
        async def metrics() -> Response:
            if self._relay is not None:
                await self._relay.sample_backlog()
            for sampler in self._samplers:
                await sampler()
            return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

        @app.get("/healthz", include_in_schema=False)
        async def healthz() -> Response:
            ok = await self.healthy()
            return Response("ok" if ok else "unhealthy", status_code=200 if ok else 503)

        for router in routers:
            app.include_router(router)
        return app


def stop_if_cancelled() -> None:
    """For a job that loops or awaits clients: SMTP and database clients may turn a cancellation
    into their own error while the service stops; without this the job would go back to sleep
    and shutdown would wait for it."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


# How often each service's `forget-expired-counts` job runs (a row lives two windows: two days at most).
FORGET_COUNTS_SECONDS = 600.0


async def forget_expired_counts(runtime: ServiceRuntime) -> None:
    """Job: delete the rate-limit counts no decision needs any more."""
    await runtime.counters.forget_expired()
    stop_if_cancelled()


def runtime_of(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


def serve(factory: str, settings: ServiceSettings) -> None:
    """`python -m <service> serve` (shared.commands): run the HTTP app and everything it starts."""
    configure_logging(settings.service_name, settings.log_level)
    uvicorn.run(
        factory,
        factory=True,
        **settings.server_options(),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
