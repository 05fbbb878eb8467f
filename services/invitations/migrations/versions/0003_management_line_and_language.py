"""The participant's management line and preferred feedback-session language, kept per cycle.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

S = "invitations"


def upgrade() -> None:
    op.add_column(
        "cycle",
        sa.Column("management_line", postgresql.ARRAY(sa.String), nullable=False, server_default="{}"),
        schema=S,
    )
    op.add_column("cycle", sa.Column("preferred_language", sa.Text), schema=S)


def downgrade() -> None:
    for column in ("preferred_language", "management_line"):
        op.drop_column("cycle", column, schema=S)
