"""Initial schema: cycles, raters, mail outbox; shared outbox and inbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import create_outbox_and_inbox

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    create_outbox_and_inbox()
    op.execute("CREATE SCHEMA IF NOT EXISTS invitations")
    op.create_table(
        "cycle",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("participant_id", sa.String, nullable=False),
        sa.Column("given_name", sa.String, nullable=False),
        sa.Column("family_name", sa.String, nullable=False),
        sa.Column("email", sa.String, nullable=False),
        sa.Column("organisation", sa.String, nullable=False),
        sa.Column("region", sa.String, nullable=False),
        sa.Column("programme", sa.String),
        sa.Column("facilitator_id", sa.Uuid),
        sa.Column("deadline", TZ, nullable=False),
        sa.Column("funding_method", sa.String, nullable=False),
        sa.Column("funding_reference", sa.String, nullable=False),
        sa.Column("amount_due", sa.Numeric(10, 2), nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("requested_by", sa.String, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        schema="invitations",
    )
    op.create_table(
        "rater",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("cycle_id", sa.Uuid, sa.ForeignKey("invitations.cycle.id"), nullable=False, index=True),
        sa.Column("group", sa.String, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("email", sa.String, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.UniqueConstraint("cycle_id", "email", name="uq_rater_cycle_email"),
        schema="invitations",
    )
    op.create_table(
        "outgoing_email",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("cycle_id", sa.Uuid, sa.ForeignKey("invitations.cycle.id"), nullable=False, index=True),
        sa.Column("rater_id", sa.Uuid, sa.ForeignKey("invitations.rater.id")),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", TZ),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("last_error", sa.Text),
        schema="invitations",
    )
    op.create_index(
        "ix_outgoing_email_unsent",
        "outgoing_email",
        ["next_attempt_at"],
        schema="invitations",
        postgresql_where=sa.text("sent_at IS NULL"),
    )


def downgrade() -> None:
    op.execute("DROP SCHEMA invitations CASCADE")
    op.drop_table("inbox")
    op.drop_table("outbox")
