"""Conflicts of interest by management line, and the participant's preferred session language.

`participant.management_line`: work emails of the participant's line manager and the managers above
them (CycleOpened.management_line), only for keeping those facilitators out of the match; never
shown or logged. `participant.preferred_language`: ISO 639 code (or 'bsl') the participant would
like their feedback session in. `facilitator.line_manager_email`: optional, entered by the regional
lead, so a facilitator is never matched with the person who manages them.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "scheduling"


def upgrade() -> None:
    op.add_column(
        "participant",
        sa.Column("management_line", postgresql.ARRAY(sa.String), nullable=False, server_default="{}"),
        schema=S,
    )
    op.add_column("participant", sa.Column("preferred_language", sa.Text), schema=S)
    op.add_column("facilitator", sa.Column("line_manager_email", sa.String), schema=S)


def downgrade() -> None:
    op.drop_column("facilitator", "line_manager_email", schema=S)
    op.drop_column("participant", "preferred_language", schema=S)
    op.drop_column("participant", "management_line", schema=S)
