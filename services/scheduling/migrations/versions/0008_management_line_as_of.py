"""The participant's management line can change after the cycle opened (ManagementLineChanged, ADR 0005).

`participant.management_line_as_of` (timestamptz, null): `occurred_at` of the event the stored line
came from (CycleOpened or ManagementLineChanged); an event older than it leaves the line alone. Null
on rows written before this migration: their line came from CycleOpened, which every change is newer than.

Events of one cycle on different topics arrive in any order, so a ManagementLineChanged may come
before the CycleOpened: it is kept on a participant row that has only the line (`participant_id`,
`name`, `organisation`, `region` become nullable; with no `email` such a row counts as "participant
not known yet" everywhere), and the CycleOpened fills in the rest without replacing the newer line.

Downgrade deletes those line-only rows (the earlier schema cannot hold them; a later CycleOpened
then brings its own, older line) and makes the columns required again.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

S = "scheduling"
FROM_CYCLE_OPENED = ("participant_id", "name", "organisation", "region")


def upgrade() -> None:
    op.add_column("participant", sa.Column("management_line_as_of", sa.DateTime(timezone=True)), schema=S)
    for column in FROM_CYCLE_OPENED:
        op.alter_column("participant", column, existing_type=sa.String, nullable=True, schema=S)


def downgrade() -> None:
    op.execute("DELETE FROM scheduling.participant WHERE name IS NULL")
    for column in FROM_CYCLE_OPENED:
        op.alter_column("participant", column, existing_type=sa.String, nullable=False, schema=S)
    op.drop_column("participant", "management_line_as_of", schema=S)
