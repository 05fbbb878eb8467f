"""Mail outbox on the shared base (shared.mail_outbox): `outgoing_email.gave_up_at` records that
the outbox stopped trying (refused for good, or too many attempts) instead of the sender inferring
it from `attempts`. Unsent rows that already used the former 8 attempts are marked given up.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outgoing_email", sa.Column("gave_up_at", sa.DateTime(timezone=True)), schema="reports")
    op.execute("UPDATE reports.outgoing_email SET gave_up_at = next_attempt_at WHERE sent_at IS NULL AND attempts >= 8")


def downgrade() -> None:
    op.drop_column("outgoing_email", "gave_up_at", schema="reports")
