"""Rate limits every instance shares (docs/adr/0023): the public routes' counts (0006) move into the
table every service now has (shared.ratelimit), beside the limits that were counted in each
process's memory (new links, signed-link pages). Counts are short-lived: none is carried over.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from shared.migrations import create_rate_limit_table, drop_rate_limit_table

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("request_allowance", schema="invitations")
    create_rate_limit_table("invitations")


def downgrade() -> None:
    drop_rate_limit_table("invitations")
    op.create_table(
        "request_allowance",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        schema="invitations",
    )
    op.create_index("request_allowance_window", "request_allowance", ["window_start"], schema="invitations")
