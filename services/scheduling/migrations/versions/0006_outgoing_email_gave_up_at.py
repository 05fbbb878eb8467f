"""Mail outbox on the shared base (shared.mail_outbox): `outgoing_email.gave_up_at` records that
the outbox stopped trying (an address refused for good). Scheduling retries temporary failures
without limit (`mail_max_attempts` unset), so no existing row is given up.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outgoing_email", sa.Column("gave_up_at", sa.DateTime(timezone=True)), schema="scheduling")


def downgrade() -> None:
    op.drop_column("outgoing_email", "gave_up_at", schema="scheduling")
