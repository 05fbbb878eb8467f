"""Facilitators' and regional leads' personal links can be renewed: a link version, signed into
the link, that renewing raises (the old link stops working). Existing links are version 1 and
keep working. Rolling back returns every link to version 1: old links of anyone whose link was
renewed work again, so renew those again after upgrading.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLES = ("facilitator", "regional_lead")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(
            table, sa.Column("link_version", sa.Integer, nullable=False, server_default="1"), schema="scheduling"
        )


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, "link_version", schema="scheduling")
