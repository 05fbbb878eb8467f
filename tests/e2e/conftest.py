"""End-to-end tier: the four services running as separate processes against the real stack."""

from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from tests.config import StackSettings, services_with_demo_data

Query = Callable[..., object]


@pytest.fixture(scope="session")
def settings() -> StackSettings:
    return services_with_demo_data()


class Databases:
    """Plain asyncpg connections to each service's own database, for assertions only."""

    def __init__(self, settings: StackSettings) -> None:
        self._urls = {
            name: getattr(settings, f"{name}_database_url").get_secret_value().replace("+asyncpg", "")
            for name in ("invitations", "ratings", "reports", "scheduling")
        }
        self._connections: dict[str, asyncpg.Connection] = {}

    async def fetch(self, service: str, sql: str, *args: object) -> list[asyncpg.Record]:
        if service not in self._connections:
            self._connections[service] = await asyncpg.connect(self._urls[service])
        return list(await self._connections[service].fetch(sql, *args))

    async def close(self) -> None:
        for connection in self._connections.values():
            await connection.close()


@pytest.fixture
async def dbs(settings: StackSettings) -> AsyncIterator[Databases]:
    databases = Databases(settings)
    yield databases
    await databases.close()
