"""Integration tier: real Kafka and PostgreSQL from the local stack (`make stack`)."""

from __future__ import annotations

import asyncio
import importlib
import uuid
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from shared.contracts.topics import NAMESPACE
from shared.db import OutboxMessage, ProcessedEvent, create_engine
from shared.messaging import ensure_topics
from shared.migrations import upgrade
from tests.config import StackSettings, kafka_options, load, use_operator_kafka_login

if TYPE_CHECKING:
    from fastapi import FastAPI

    from shared.service import ServiceRuntime


@pytest.fixture(scope="session")
async def settings() -> AsyncIterator[StackSettings]:
    """The stack, with this run's topics (`make test-integration` gives the run its own namespace)."""
    stack = load()
    await ensure_topics(kafka_options(stack.hlm360_kafka_bootstrap_servers))
    yield stack
    if NAMESPACE != "hlm360":
        admin = AIOKafkaAdminClient(**kafka_options(stack.hlm360_kafka_bootstrap_servers))
        await admin.start()
        try:
            ours = [t for t in await admin.list_topics() if t.startswith(f"{NAMESPACE}.")]
            if ours:
                await admin.delete_topics(ours)
        finally:
            await admin.close()


@pytest.fixture(scope="session")
async def test_database_url(settings: StackSettings) -> AsyncIterator[str]:
    """A fresh database for this run's shared-library tests: nothing left over from an earlier run
    (say, outbox rows for topics that no longer exist) can leak into this one."""
    async with scratch_database(settings, "shared_itest") as url:
        yield url


@asynccontextmanager
async def scratch_database(stack: StackSettings, prefix: str) -> AsyncIterator[str]:
    admin_url = stack.test_database_url.get_secret_value()
    database = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url)
    try:
        async with admin.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(f'CREATE DATABASE "{database}"'))
        yield admin_url.rsplit("/", 1)[0] + "/" + database
    finally:
        # FORCE may not terminate an autovacuum worker busy on the new database (it is not ours to
        # signal): it finishes quickly, so try again a few times.
        for attempt in range(1, 6):
            try:
                async with admin.connect() as connection:
                    await connection.execution_options(isolation_level="AUTOCOMMIT")
                    await connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
                break
            except Exception as error:  # a leftover test database is harmless; a failed teardown hides results
                if attempt == 5:
                    warnings.warn(f"could not drop {database}: {error}", stacklevel=1)
                else:
                    await asyncio.sleep(0.5 * attempt)
        await admin.dispose()


@pytest.fixture(scope="session")
async def test_engine(test_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(test_database_url)
    async with engine.begin() as connection:
        # create_all is for tests only; services migrate with Alembic.
        await connection.run_sync(
            SQLModel.metadata.create_all, tables=[OutboxMessage.__table__, ProcessedEvent.__table__]
        )
    yield engine
    await engine.dispose()


class ServiceUnderTest:
    """One service running in-process on its own fresh database and its own consumer groups,
    against the real Kafka: use `client` for HTTP as the public, `admin` for the operators' API
    (sends the service's admin token), and `runtime` for its unit of work."""

    def __init__(self, app: FastAPI, runtime: ServiceRuntime, database_url: str) -> None:
        self.app = app
        self.runtime = runtime
        self.database_url = database_url
        transport = httpx.ASGITransport(app=app)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        token = runtime.settings.admin_token
        self.admin = httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {token.get_secret_value()}"} if token else {},
        )


@asynccontextmanager
async def running_service(name: str, stack: StackSettings, **overrides: object) -> AsyncIterator[ServiceUnderTest]:
    """Start `name` in-process: a fresh database `<name>_itest_<random>`, migrated with Alembic."""
    module = importlib.import_module(f"{name}.main")
    config = importlib.import_module(f"{name}.config")
    async with scratch_database(stack, f"{name}_itest") as database_url:
        migrations = Path(module.__file__).resolve().parents[2] / "migrations"  # type: ignore[arg-type]
        await asyncio.to_thread(upgrade, migrations, database_url)
        settings = config.Settings(
            database_url=database_url,
            kafka_bootstrap_servers=stack.hlm360_kafka_bootstrap_servers,
            consumer_group_prefix=f"itest-{name}-{uuid.uuid4().hex[:8]}",
            consumer_retry_backoff_seconds=0.1,
            outbox_poll_seconds=0.1,
            **{"admin_token": f"itest-admin-{uuid.uuid4().hex}", **overrides},
        )
        app = module.create_app(settings)
        async with app.router.lifespan_context(app):
            service = ServiceUnderTest(app, app.state.runtime, database_url)
            yield service
            await service.client.aclose()
            await service.admin.aclose()


@pytest.fixture(scope="session", autouse=True)
def _operator_kafka_login() -> None:
    """In-process services on a private topic namespace log in as the operators (tests/config.py).
    A fixture, not an import side effect: other tiers import helpers from here."""
    use_operator_kafka_login()
