"""Rate limits every instance shares (docs/adr/0023): counts in the service's database, one row per
limit and subject under a keyed hash, instead of in each process's memory.

Revision ID: 0003
Revises: 0002
"""

from shared.migrations import create_rate_limit_table, drop_rate_limit_table

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_rate_limit_table("ratings")


def downgrade() -> None:
    drop_rate_limit_table("ratings")
