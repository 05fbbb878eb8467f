"""Initial schema: facilitators, slots, sessions (no double booking), unscheduled cycles; shared outbox and inbox.

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
    # Trusted extension (PostgreSQL 13+): the database owner may create it. Needed for the
    # exclusion constraint that mixes '=' on a uuid with '&&' on a range.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.execute("CREATE SCHEMA IF NOT EXISTS scheduling")
    op.create_table(
        "facilitator",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("email", sa.String, nullable=False),
        sa.Column("region", sa.String, nullable=False),
        sa.Column("organisation", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False, server_default="active"),
        sa.Column("elearning_passed_on", sa.Date),
        sa.Column("elearning_score", sa.Integer),
        sa.Column("course_completed_on", sa.Date),
        sa.Column("monthly_capacity", sa.Integer, nullable=False, server_default="8"),
        sa.Column("languages", postgresql.ARRAY(sa.String), nullable=False, server_default="{}"),
        sa.CheckConstraint("status IN ('active', 'lapsed', 'suspended')", name="ck_facilitator_status"),
        sa.CheckConstraint("elearning_score BETWEEN 0 AND 100", name="ck_facilitator_elearning_score"),
        sa.CheckConstraint("monthly_capacity >= 0", name="ck_facilitator_monthly_capacity"),
        schema="scheduling",
    )
    op.create_table(
        "slot",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("facilitator_id", sa.Uuid, sa.ForeignKey("scheduling.facilitator.id"), nullable=False),
        sa.Column("starts_at", TZ, nullable=False),
        sa.Column("ends_at", TZ, nullable=False),
        sa.Column("mode", sa.String, nullable=False, server_default="virtual"),
        sa.UniqueConstraint("facilitator_id", "starts_at", name="uq_slot_facilitator_starts_at"),
        sa.CheckConstraint("ends_at > starts_at", name="ck_slot_ends_after_start"),
        sa.CheckConstraint("mode IN ('virtual', 'in_person')", name="ck_slot_mode"),
        schema="scheduling",
    )
    op.create_index("ix_slot_starts_at", "slot", ["starts_at"], schema="scheduling")
    op.create_table(
        "session",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("cycle_id", sa.Uuid, nullable=False),
        sa.Column("report_id", sa.Uuid, nullable=False),
        sa.Column("facilitator_id", sa.Uuid, sa.ForeignKey("scheduling.facilitator.id"), nullable=False),
        sa.Column("slot_id", sa.Uuid, sa.ForeignKey("scheduling.slot.id"), nullable=False),
        sa.Column("starts_at", TZ, nullable=False),
        sa.Column("ends_at", TZ, nullable=False),
        sa.Column("mode", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False, server_default="booked"),
        sa.Column("ics_path", sa.String, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("cycle_id", name="uq_session_cycle_id"),
        sa.CheckConstraint("ends_at > starts_at", name="ck_session_ends_after_start"),
        sa.CheckConstraint("mode IN ('virtual', 'in_person')", name="ck_session_mode"),
        sa.CheckConstraint("status IN ('booked', 'completed', 'cancelled')", name="ck_session_status"),
        schema="scheduling",
    )
    # A slot holds one live session; a cancelled session gives its slot back.
    op.create_index(
        "uq_session_slot_id",
        "session",
        ["slot_id"],
        unique=True,
        schema="scheduling",
        postgresql_where=sa.text("status <> 'cancelled'"),
    )
    # No facilitator can be in two live sessions at once, whatever the application does.
    op.execute(
        "ALTER TABLE scheduling.session ADD CONSTRAINT ex_session_facilitator_overlap "
        "EXCLUDE USING gist (facilitator_id WITH =, tstzrange(starts_at, ends_at) WITH &&) "
        "WHERE (status <> 'cancelled')"
    )
    op.create_index("ix_session_facilitator_starts_at", "session", ["facilitator_id", "starts_at"], schema="scheduling")
    op.create_table(
        "unscheduled_cycle",
        sa.Column("cycle_id", sa.Uuid, primary_key=True),
        sa.Column("report_id", sa.Uuid, nullable=False),
        sa.Column("participant_id", sa.String, nullable=False),
        sa.Column("organisation", sa.String, nullable=False),
        sa.Column("region", sa.String, nullable=False),
        sa.Column("chosen_facilitator_id", sa.Uuid),
        sa.Column("correlation_id", sa.Uuid),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="1"),
        sa.Column("first_seen_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("last_attempt_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("scheduled_at", TZ),
        schema="scheduling",
    )
    op.create_index(
        "ix_unscheduled_cycle_open",
        "unscheduled_cycle",
        ["last_attempt_at"],
        schema="scheduling",
        postgresql_where=sa.text("scheduled_at IS NULL"),
    )


def downgrade() -> None:
    op.execute("DROP SCHEMA scheduling CASCADE")
    op.drop_table("inbox")
    op.drop_table("outbox")
