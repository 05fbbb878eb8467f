"""Integration tier: real Kafka and PostgreSQL from the local stack (`make stack`)."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from shared.db import OutboxMessage, ProcessedEvent, create_engine
from tests.config import StackSettings, load


@pytest.fixture(scope="session")
def settings() -> StackSettings:
    return load()


@pytest.fixture(scope="session")
async def test_engine(settings: StackSettings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.test_database_url.get_secret_value())
    async with engine.begin() as connection:
        # create_all is for tests only; services migrate with Alembic.
        await connection.run_sync(
            SQLModel.metadata.create_all, tables=[OutboxMessage.__table__, ProcessedEvent.__table__]
        )
    yield engine
    await engine.dispose()
