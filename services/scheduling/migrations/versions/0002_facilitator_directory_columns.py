"""Facilitator directory columns: contact phone, time zone, when registered and when announced on Kafka.

This revision used to insert fictional facilitators for the demo. Migrations insert no people (ADR 11):
demo people come from `python -m scheduling seed-demo` (`scheduling/demo_seed.py`). The columns
were moved here from 0003 so each revision still changes the schema; no deployment existed yet.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
S = "scheduling"


def upgrade() -> None:
    op.add_column("facilitator", sa.Column("phone", sa.String), schema=S)
    op.add_column(
        "facilitator", sa.Column("timezone", sa.String, nullable=False, server_default="Europe/London"), schema=S
    )
    op.add_column("facilitator", sa.Column("registered_at", TZ, nullable=False, server_default=sa.func.now()), schema=S)
    op.add_column("facilitator", sa.Column("announced_at", TZ), schema=S)


def downgrade() -> None:
    for column in ("announced_at", "registered_at", "timezone", "phone"):
        op.drop_column("facilitator", column, schema=S)
