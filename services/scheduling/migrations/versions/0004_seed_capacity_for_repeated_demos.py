"""Seed facilitators: room for repeated demo and end-to-end runs on one machine.

Every `make demo` and e2e journey books a real session with a seeded facilitator; with 6-10 places
a month the seeded diaries filled after a few dozen runs and new reports found nothing to offer.
The three active seeded facilitators get 40 places a month; announcing them again tells the other
services (FacilitatorRegistered carries the capacity).

Revision ID: 0004
Revises: 0003
"""

from uuid import UUID

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PREVIOUS_CAPACITY = {
    UUID("9a3b8c1d-2e4f-4a5b-8c6d-7e8f9a0b1c2d"): 8,
    UUID("3f6d2a8e-51c4-4b7a-9e0d-6c2b8a4f1e37"): 6,
    UUID("c84e1b52-7d3a-4f69-a1e8-0b5d9c2f6a43"): 10,
}
facilitator = sa.table(
    "facilitator",
    sa.column("id", sa.Uuid),
    sa.column("monthly_capacity", sa.Integer),
    sa.column("announced_at", sa.DateTime(timezone=True)),
    schema="scheduling",
)


def upgrade() -> None:
    op.execute(
        facilitator.update()
        .where(facilitator.c.id.in_(list(PREVIOUS_CAPACITY)))
        .values(monthly_capacity=40, announced_at=None)
    )


def downgrade() -> None:
    for facilitator_id, capacity in PREVIOUS_CAPACITY.items():
        op.execute(facilitator.update().where(facilitator.c.id == facilitator_id).values(monthly_capacity=capacity))
