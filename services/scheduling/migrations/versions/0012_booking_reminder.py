"""A participant who has not chosen a feedback session time is reminded once: when.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "booking_request", sa.Column("booking_reminder_sent_at", sa.DateTime(timezone=True)), schema="scheduling"
    )


def downgrade() -> None:
    op.drop_column("booking_request", "booking_reminder_sent_at", schema="scheduling")
