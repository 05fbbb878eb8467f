"""Initial schema: cycles, raters, responses; shared outbox and inbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import create_outbox_and_inbox

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    create_outbox_and_inbox()
    op.execute("CREATE SCHEMA IF NOT EXISTS ratings")
    op.create_table(
        "cycle",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("deadline", TZ, nullable=False),
        sa.Column("invited_per_group", postgresql.JSONB, nullable=False),
        sa.Column("correlation_id", sa.Uuid),
        sa.Column("opened_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("closed_at", TZ),
        sa.Column("close_reason", sa.String),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_cycle_status"),
        schema="ratings",
    )
    op.create_index(
        "ix_cycle_open_deadline",
        "cycle",
        ["deadline"],
        schema="ratings",
        postgresql_where=sa.text("status = 'open'"),
    )
    # No foreign key to cycle: RaterNominated may arrive before CycleOpened.
    op.create_table(
        "rater",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("cycle_id", sa.Uuid, nullable=False, index=True),
        sa.Column("group", sa.String, nullable=False),
        sa.Column("link_token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("nominated_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("submitted_at", TZ),
        schema="ratings",
    )
    op.create_table(
        "response",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("rater_id", sa.Uuid, sa.ForeignKey("ratings.rater.id"), nullable=False, unique=True),
        sa.Column("cycle_id", sa.Uuid, nullable=False, index=True),
        sa.Column("group", sa.String, nullable=False),
        sa.Column("questionnaire_version", sa.String, nullable=False),
        sa.Column("answers", postgresql.JSONB, nullable=False),
        sa.Column("importance", postgresql.JSONB, nullable=False),
        sa.Column("comments", postgresql.JSONB, nullable=False),
        sa.Column("submitted_at", TZ, nullable=False),
        schema="ratings",
    )


def downgrade() -> None:
    op.execute("DROP SCHEMA ratings CASCADE")
    op.drop_table("inbox")
    op.drop_table("outbox")
