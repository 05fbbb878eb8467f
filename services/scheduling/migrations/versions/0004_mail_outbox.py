"""The mail outbox (`outgoing_email`, shared/mail_outbox.py) and its due index.

This revision used to raise the demo facilitators' monthly capacity. Migrations insert and change
no people (ADR 11): the demo's capacity is in `scheduling/demo_seed.py`. The table was moved here
from 0003 so each revision still changes the schema; no deployment existed yet.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
S = "scheduling"


def upgrade() -> None:
    op.create_table(
        "outgoing_email",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("cycle_id", sa.Uuid),
        sa.Column("to_address", sa.String, nullable=False),
        sa.Column("subject", sa.String, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("ics", sa.LargeBinary),
        sa.Column("ics_method", sa.String),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", TZ),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("last_error", sa.Text),
        schema=S,
    )
    op.create_index(
        "ix_outgoing_email_due",
        "outgoing_email",
        ["next_attempt_at"],
        schema=S,
        postgresql_where=sa.text("sent_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("outgoing_email", schema=S)
