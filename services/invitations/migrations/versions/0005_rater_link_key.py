"""Which signing key each rater's personal link token was derived with (shared.links key id, never
the key), so rotating the link secret keeps links ratings knows (docs/adr/0012). NULL: a rater
recorded before this column, whose token is derived with the current key.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("rater", sa.Column("link_key_id", sa.String(16), nullable=True), schema="invitations")


def downgrade() -> None:
    op.drop_column("rater", "link_key_id", schema="invitations")
