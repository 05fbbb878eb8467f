"""Initial schema: accounts, one-time sign-in links, observations, the mail outbox and its due
index, the rate-limit counts (docs/adr/0023); the shared outbox and inbox. No demo data.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.migrations import MAIL_DUE_INDEX, create_outbox_and_inbox, create_rate_limit_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
SCHEMA = "observations"


def _mail_outbox() -> None:
    op.create_table(
        "outgoing_email",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", TZ),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("last_error", sa.Text),
        sa.Column("gave_up_at", TZ),
        sa.Column("link_id", sa.Uuid, sa.ForeignKey(f"{SCHEMA}.sign_in_link.id", ondelete="SET NULL")),
        schema=SCHEMA,
    )
    op.create_index(
        MAIL_DUE_INDEX,
        "outgoing_email",
        ["next_attempt_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("sent_at IS NULL AND gave_up_at IS NULL"),
    )


def upgrade() -> None:
    create_outbox_and_inbox()
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    op.create_table(
        "account",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("display_name", sa.String, nullable=False),
        sa.Column("programme", sa.String),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        schema=SCHEMA,
    )
    op.create_table(
        "sign_in_link",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("account_id", sa.Uuid, sa.ForeignKey(f"{SCHEMA}.account.id", ondelete="CASCADE")),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("used_at", TZ),
        schema=SCHEMA,
    )
    op.create_index("ix_sign_in_link_expires_at", "sign_in_link", ["expires_at"], schema=SCHEMA)
    op.create_table(
        "observation",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("account_id", sa.Uuid, sa.ForeignKey(f"{SCHEMA}.account.id", ondelete="CASCADE"), nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("observed_on", sa.Date),
        sa.Column("context", sa.Text, nullable=False),
        sa.Column("whose", sa.String),
        sa.Column("shown", postgresql.JSONB, nullable=False),
        sa.Column("what_happened", sa.Text, nullable=False),
        sa.Column("impact", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("status IN ('draft', 'recorded')", name="ck_observation_status"),
        sa.CheckConstraint("whose IS NULL OR whose IN ('mine', 'colleague')", name="ck_observation_whose"),
        schema=SCHEMA,
    )
    op.create_index("ix_observation_account_observed_on", "observation", ["account_id", "observed_on"], schema=SCHEMA)
    _mail_outbox()
    create_rate_limit_table(SCHEMA)


def downgrade() -> None:
    op.execute(f"DROP SCHEMA {SCHEMA} CASCADE")
    op.drop_table("inbox")
    op.drop_table("outbox")
