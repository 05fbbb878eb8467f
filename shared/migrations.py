"""Alembic helpers: each service owns its schema under services/<name>/migrations; the outbox
and inbox tables are created by the same helper in every service's first migration."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

MIGRATION_LOCK_KEY = 0x6D6967726174  # serialises concurrent starts of several instances


def create_outbox_and_inbox() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("event_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("event_type", sa.String, nullable=False),
        sa.Column("topic", sa.String, nullable=False),
        sa.Column("key", sa.String, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("headers", postgresql.JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["id"], postgresql_where=sa.text("published_at IS NULL"))
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String, primary_key=True),
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


# The mail outbox's send-emails query (shared.mail_outbox.due_email_query) reads only emails still
# waiting, in next_attempt_at order: one partial index with exactly that predicate, in every service.
MAIL_DUE_INDEX = "ix_outgoing_email_due"
_MAIL_WAITING = "sent_at IS NULL AND gave_up_at IS NULL"
_MAIL_UNSENT = "sent_at IS NULL"  # the predicate of the first mail index (held emails given up on too)


def index_waiting_emails(schema: str, *, former: str) -> None:
    """Replace a service's first mail outbox index (`former`, sent_at IS NULL) by MAIL_DUE_INDEX."""
    op.drop_index(former, table_name="outgoing_email", schema=schema)
    op.create_index(
        MAIL_DUE_INDEX, "outgoing_email", ["next_attempt_at"], schema=schema, postgresql_where=sa.text(_MAIL_WAITING)
    )


def unindex_waiting_emails(schema: str, *, former: str) -> None:
    """Downgrade of index_waiting_emails: the first index again, under its former name."""
    op.drop_index(MAIL_DUE_INDEX, table_name="outgoing_email", schema=schema)
    op.create_index(
        former, "outgoing_email", ["next_attempt_at"], schema=schema, postgresql_where=sa.text(_MAIL_UNSENT)
    )


def create_rate_limit_table(schema: str) -> None:
    """shared.ratelimit's counts (docs/adr/0023): one row per limit and subject, under a keyed hash
    (never an address or a token); `expires_at` is when the forget-expired-counts job deletes it."""
    op.create_table(
        "rate_limit",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer, nullable=False),
        sa.Column("previous_hits", sa.Integer, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_index("ix_rate_limit_expires_at", "rate_limit", ["expires_at"], schema=schema)


def drop_rate_limit_table(schema: str) -> None:
    op.drop_table("rate_limit", schema=schema)


def run_env(database_url: str) -> None:
    """Body of a service's migrations/env.py (online mode, asyncpg)."""

    def do_run(connection: Connection) -> None:
        connection.execute(sa.select(sa.func.pg_advisory_lock(MIGRATION_LOCK_KEY)))
        try:
            context.configure(connection=connection, target_metadata=None)
            with context.begin_transaction():
                context.run_migrations()
        finally:
            connection.execute(sa.select(sa.func.pg_advisory_unlock(MIGRATION_LOCK_KEY)))
            connection.commit()

    async def run_async() -> None:
        engine = create_async_engine(database_url, hide_parameters=True)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())


def _config(migrations_dir: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.attributes["database_url"] = database_url
    return config


def upgrade(migrations_dir: Path, database_url: str, revision: str = "head") -> None:
    command.upgrade(_config(migrations_dir, database_url), revision)


def downgrade(migrations_dir: Path, database_url: str, revision: str) -> None:
    """Operators' rollback (``-1``, a revision id, or ``base``); every migration has a tested downgrade."""
    command.downgrade(_config(migrations_dir, database_url), revision)
