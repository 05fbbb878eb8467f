"""Booked sessions whose outcome is not recorded after they end are chased: when the facilitator was
reminded, and when the regional lead was told.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COLUMNS = ("outcome_reminder_sent_at", "outcome_escalated_at")


def upgrade() -> None:
    for column in COLUMNS:
        op.add_column("session", sa.Column(column, sa.DateTime(timezone=True)), schema="scheduling")


def downgrade() -> None:
    for column in COLUMNS:
        op.drop_column("session", column, schema="scheduling")
