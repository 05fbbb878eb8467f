"""Access: participant email, release, facilitators, sessions, audit log, mail outbox;
self-assessment reports; programme cohort snapshots.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("cycle", sa.Column("participant_email", sa.String), schema="reports")
    op.add_column("report", sa.Column("released_at", TZ), schema="reports")
    op.create_table(
        "facilitator",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("email", sa.String, nullable=False),
        schema="reports",
    )
    op.create_table(
        "feedback_session",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("cycle_id", sa.Uuid, nullable=False, index=True),
        sa.Column("report_id", sa.Uuid),
        sa.Column("facilitator_id", sa.Uuid, nullable=False),
        sa.Column("starts_at", TZ, nullable=False),
        sa.Column("ends_at", TZ, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("link_sent_for", TZ),
        schema="reports",
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("subject_id", sa.Uuid, index=True),
        sa.Column("role", sa.String),
        sa.Column("holder_id", sa.Uuid),
        sa.Column("format", sa.String, nullable=False),
        sa.Column("outcome", sa.String, nullable=False),
        sa.Column("reason", sa.String, nullable=False),
        schema="reports",
    )
    op.create_table(
        "outgoing_email",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("subject_id", sa.Uuid, nullable=False, index=True),
        sa.Column("recipient", sa.String, nullable=False),
        sa.Column("link_role", sa.String, nullable=False),
        sa.Column("holder_id", sa.Uuid),
        sa.Column("link_expires_at", TZ, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", TZ),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("last_error", sa.Text),
        schema="reports",
    )
    op.create_index(
        "ix_outgoing_email_due",
        "outgoing_email",
        ["next_attempt_at"],
        schema="reports",
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.create_table(
        "self_assessment",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("access_token_sha256", sa.String(64), nullable=False),
        sa.Column("questionnaire_version", sa.String, nullable=False),
        sa.Column("completed_at", TZ, nullable=False),
        sa.Column("figures", postgresql.JSONB, nullable=False),
        sa.Column("html", sa.Text, nullable=False),
        sa.Column("pdf", sa.LargeBinary, nullable=False),
        schema="reports",
    )
    op.create_table(
        "cohort_snapshot",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("programme", sa.String, nullable=False, index=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("cycle_ids", postgresql.JSONB, nullable=False),
        sa.Column("figures", postgresql.JSONB, nullable=False),
        sa.Column("html", sa.Text, nullable=False),
        sa.Column("pdf", sa.LargeBinary, nullable=False),
        schema="reports",
    )


def downgrade() -> None:
    tables = ("cohort_snapshot", "self_assessment", "outgoing_email", "access_log", "feedback_session", "facilitator")
    for table in tables:
        op.drop_table(table, schema="reports")
    op.drop_column("report", "released_at", schema="reports")
    op.drop_column("cycle", "participant_email", schema="reports")
