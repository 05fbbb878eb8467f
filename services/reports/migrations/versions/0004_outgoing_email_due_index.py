"""The mail outbox's hot query (the send-emails job asks every poll, on every instance, for the
longest-waiting due email: `sent_at IS NULL AND gave_up_at IS NULL ... ORDER BY next_attempt_at`)
gets a partial index with exactly that predicate, named the same in every service. The former
index (`ix_outgoing_email_due`, sent_at IS NULL only) also held every email given up on.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

WAITING = sa.text("sent_at IS NULL AND gave_up_at IS NULL")


def upgrade() -> None:
    op.drop_index("ix_outgoing_email_due", table_name="outgoing_email", schema="reports")
    op.create_index("ix_outgoing_email_due", "outgoing_email", ["next_attempt_at"], schema="reports",
                    postgresql_where=WAITING)


def downgrade() -> None:
    op.drop_index("ix_outgoing_email_due", table_name="outgoing_email", schema="reports")
    op.create_index("ix_outgoing_email_due", "outgoing_email", ["next_attempt_at"], schema="reports",
                    postgresql_where=sa.text("sent_at IS NULL"))
