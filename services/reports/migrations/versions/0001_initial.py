"""Initial schema: cycle read model, responses, reports; shared outbox and inbox.

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
    op.execute("CREATE SCHEMA IF NOT EXISTS reports")
    op.create_table(
        "cycle",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("participant_id", sa.String),
        sa.Column("participant_name", sa.String),
        sa.Column("organisation", sa.String),
        sa.Column("region", sa.String),
        sa.Column("programme", sa.String),
        sa.Column("facilitator_id", sa.Uuid),
        sa.Column("deadline", TZ),
        sa.Column("opened_at", TZ),
        sa.Column("closed_at", TZ),
        sa.Column("close_reason", sa.String),
        sa.Column("responses_per_group", postgresql.JSONB),
        schema="reports",
    )
    op.create_table(
        "response",
        sa.Column("rater_id", sa.Uuid, primary_key=True),
        sa.Column("cycle_id", sa.Uuid, nullable=False, index=True),
        sa.Column("group", sa.String, nullable=False),
        sa.Column("questionnaire_version", sa.String, nullable=False),
        sa.Column("answers", postgresql.JSONB, nullable=False),
        sa.Column("importance", postgresql.JSONB, nullable=False),
        sa.Column("comments", postgresql.JSONB, nullable=False),
        sa.Column("submitted_at", TZ, nullable=False),
        schema="reports",
    )
    op.create_table(
        "report",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("cycle_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("generated_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("figures", postgresql.JSONB, nullable=False),
        sa.Column("html", sa.Text, nullable=False),
        sa.Column("pdf", sa.LargeBinary, nullable=False),
        sa.Column("pages", sa.Integer, nullable=False),
        sa.Column("html_path", sa.String, nullable=False),
        sa.Column("pdf_path", sa.String, nullable=False),
        schema="reports",
    )


def downgrade() -> None:
    op.execute("DROP SCHEMA reports CASCADE")
    op.drop_table("inbox")
    op.drop_table("outbox")
