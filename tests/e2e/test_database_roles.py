"""Least privilege below the services: each service logs in to PostgreSQL as its own role, which
owns its database and can reach no other service's (deploy/local/stack.sh pg_provision)."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.config import StackSettings

SERVICES = ("invitations", "ratings", "reports", "scheduling", "observations")


def _dsn(settings: StackSettings, service: str, *, database: str | None = None) -> str:
    url = make_url(getattr(settings, f"{service}_database_url").get_secret_value())
    url = url.set(drivername="postgresql", database=database or url.database)
    return url.render_as_string(hide_password=False)


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_has_its_own_role_owning_its_database(settings: StackSettings, service: str) -> None:
    connection = await asyncpg.connect(_dsn(settings, service))
    try:
        user, owner, createdb, superuser = await connection.fetchrow(
            "SELECT current_user, pg_get_userbyid(d.datdba), r.rolcreatedb, r.rolsuper"
            " FROM pg_database d, pg_roles r WHERE d.datname = current_database() AND r.rolname = current_user"
        )
    finally:
        await connection.close()
    assert user == owner == f"hlm360_{service}"
    assert not createdb and not superuser


@pytest.mark.parametrize("service", SERVICES)
async def test_a_service_role_cannot_reach_another_services_database(settings: StackSettings, service: str) -> None:
    other = next(s for s in SERVICES if s != service)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await asyncpg.connect(_dsn(settings, service, database=other))


def test_the_roles_differ(settings: StackSettings) -> None:
    users = {make_url(getattr(settings, f"{s}_database_url").get_secret_value()).username for s in SERVICES}
    assert len(users) == len(SERVICES)
