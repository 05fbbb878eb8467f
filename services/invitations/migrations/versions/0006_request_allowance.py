"""The public routes' rate limits, shared by every instance of the service (issue 12): one row per
client address or participant mailbox (a keyed hash, never the value) and window.

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
    op.create_table(
        "request_allowance",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        schema="invitations",
    )
    op.create_index("request_allowance_window", "request_allowance", ["window_start"], schema="invitations")


def downgrade() -> None:
    op.drop_table("request_allowance", schema="invitations")
