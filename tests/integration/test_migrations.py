"""Every migration of every service can be rolled back and re-applied on real PostgreSQL.

Walking down from head one revision at a time, each step is undone and redone, and the schema
afterwards must be exactly the schema before (columns, defaults, indexes with their predicates,
constraints). A downgrade that leaves something behind makes the redo fail; one that removes too
much (or the wrong thing) changes the schema. At the bottom nothing of the service is left.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from shared.db import create_engine
from shared.migrations import downgrade, upgrade
from tests.config import StackSettings
from tests.integration.conftest import scratch_database

SERVICES = ["invitations", "ratings", "reports", "scheduling", "observations"]

SCHEMA_QUERIES = {
    "columns": """
        SELECT table_schema || '.' || table_name || '.' || column_name || ' ' || data_type
               || ' null=' || is_nullable || ' default=' || coalesce(column_default, '-')
        FROM information_schema.columns
        WHERE table_schema NOT IN ('pg_catalog', 'information_schema')""",
    "indexes": """
        SELECT schemaname || ' ' || indexdef FROM pg_indexes
        WHERE schemaname NOT IN ('pg_catalog', 'information_schema')""",
    "constraints": """
        SELECT n.nspname || '.' || r.relname || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')""",
    "types": """
        SELECT n.nspname || '.' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE t.typtype = 'e' AND n.nspname NOT IN ('pg_catalog', 'information_schema')""",
}


def migrations_of(service: str) -> Path:
    package = importlib.import_module(service)
    return Path(str(package.__file__)).resolve().parents[2] / "migrations"


def revisions_newest_first(migrations: Path) -> list[str]:
    config = Config()
    config.set_main_option("script_location", str(migrations))
    return [script.revision for script in ScriptDirectory.from_config(config).walk_revisions()]


TABLE_COLUMNS = """
    SELECT c.table_schema, c.table_name, c.column_name
    FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
    WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
      AND c.table_name <> 'alembic_version' AND c.data_type NOT LIKE 'timestamp%'
    ORDER BY c.table_schema, c.table_name, c.ordinal_position"""


async def schema(url: str) -> dict[str, list[str]]:
    """Schema objects, plus a fingerprint of each table's rows (seed data migrations move data;
    timestamps are left out because a redo stamps its own)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            snapshot = {
                name: sorted(str(row[0]) for row in await connection.execute(text(query)))
                for name, query in SCHEMA_QUERIES.items()
            }
            tables: dict[str, list[str]] = {}
            for table_schema, table, column in await connection.execute(text(TABLE_COLUMNS)):
                tables.setdefault(f'"{table_schema}"."{table}"', []).append(f'"{column}"')
            snapshot["rows"] = []
            for table, columns in sorted(tables.items()):
                fingerprint = (
                    await connection.execute(
                        text(
                            f"SELECT count(*) || ' ' || md5(coalesce(string_agg(r, '|' ORDER BY r), '')) "
                            f"FROM (SELECT ROW({', '.join(columns)})::text AS r FROM {table}) rows"
                        )
                    )
                ).scalar_one()
                snapshot["rows"].append(f"{table} {fingerprint}")
            return snapshot
    finally:
        await engine.dispose()


def service_objects(snapshot: dict[str, list[str]]) -> list[str]:
    return [
        entry
        for name, entries in snapshot.items()
        if name != "rows"
        for entry in entries
        if "alembic_version" not in entry
    ]


@pytest.mark.parametrize("service", SERVICES)
async def test_each_migration_rolls_back_and_reapplies_to_the_same_schema(
    settings: StackSettings, service: str
) -> None:
    migrations = migrations_of(service)
    revisions = revisions_newest_first(migrations)
    assert len(revisions) >= (1 if service == "observations" else 2), revisions  # observations: one so far
    async with scratch_database(settings, f"{service}_roundtrip") as url:
        await asyncio.to_thread(upgrade, migrations, url)
        for revision in revisions:
            before = await schema(url)
            await asyncio.to_thread(downgrade, migrations, url, "-1")
            below = await schema(url)
            assert below != before, f"{service} {revision}: the downgrade changed neither schema nor data"
            await asyncio.to_thread(upgrade, migrations, url, revision)
            assert await schema(url) == before, f"{service} {revision}: undo + redo changed the schema"
            await asyncio.to_thread(downgrade, migrations, url, "-1")
        assert service_objects(await schema(url)) == [], f"{service}: objects left after downgrading to base"
        await asyncio.to_thread(upgrade, migrations, url)


async def test_operators_roll_back_and_forward_with_the_service_command(settings: StackSettings) -> None:
    """`python -m ratings rollback <revision> --yes` / `migrate`, as the README tells operators."""
    migrations = migrations_of("ratings")
    newest, previous = revisions_newest_first(migrations)[:2]
    async with scratch_database(settings, "ratings_cli") as url:

        async def run(*args: str) -> subprocess.CompletedProcess[str]:
            environment = {**os.environ, "RATINGS_DATABASE_URL": url}
            return await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "ratings", *args],
                env=environment,
                capture_output=True,
                text=True,
                timeout=120,
            )

        async def version() -> str:
            engine = create_engine(url)
            try:
                async with engine.connect() as connection:
                    return str((await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one())
            finally:
                await engine.dispose()

        assert (await run("migrate")).returncode == 0
        assert await version() == newest
        unconfirmed = await run("rollback", previous)  # no terminal and no --yes: nothing undone
        assert unconfirmed.returncode == 1 and "add --yes" in unconfirmed.stderr
        assert await version() == newest
        assert (await run("rollback", previous, "--yes")).returncode == 0
        assert await version() == previous
        refused = await run("rollback")
        assert refused.returncode == 2 and "usage: python -m ratings rollback" in refused.stderr
        assert (await run("migrate")).returncode == 0
        assert await version() == newest
