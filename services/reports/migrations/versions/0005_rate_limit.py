"""Rate limits every instance shares (docs/adr/0023): counts in the service's database, one row per
limit and subject under a keyed hash, instead of in each process's memory.

Revision ID: 0005
Revises: 0004
"""

from shared.migrations import create_rate_limit_table, drop_rate_limit_table

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_rate_limit_table("reports")


def downgrade() -> None:
    drop_rate_limit_table("reports")
