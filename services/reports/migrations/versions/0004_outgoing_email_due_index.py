"""The mail outbox's hot query (the send-emails job asks every poll, on every instance, for the
longest-waiting due email: `sent_at IS NULL AND gave_up_at IS NULL ... ORDER BY next_attempt_at`)
gets a partial index with exactly that predicate, named the same in every service. The former
index (`ix_outgoing_email_due`, sent_at IS NULL only) also held every email given up on.

Revision ID: 0004
Revises: 0003
"""

from shared.migrations import index_waiting_emails, unindex_waiting_emails

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

FORMER = "ix_outgoing_email_due"


def upgrade() -> None:
    index_waiting_emails("reports", former=FORMER)


def downgrade() -> None:
    unindex_waiting_emails("reports", former=FORMER)
