"""Multi-page journey: participant name for the start page, drafts, declines, withdrawals, replacements.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("cycle", sa.Column("participant_name", sa.String), schema="ratings")
    # A RaterWithdrawn may arrive before its RaterNominated (another topic): the withdrawal is kept
    # as a row without a link until the nomination fills it in.
    op.alter_column("rater", "link_token_sha256", nullable=True, schema="ratings")
    op.add_column("rater", sa.Column("replaces_rater_id", sa.Uuid), schema="ratings")
    op.add_column("rater", sa.Column("declined_at", TZ), schema="ratings")
    op.add_column("rater", sa.Column("withdrawn_at", TZ), schema="ratings")
    # Unsent answers, keyed by the SHA-256 of the link token (a rater's link, or a self-assessment's
    # own random link). Deleted on submission, on decline and when the cycle closes.
    op.create_table(
        "draft",
        sa.Column("token_sha256", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("answers", postgresql.JSONB, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("kind IN ('rater', 'self_assessment')", name="ck_draft_kind"),
        schema="ratings",
    )
    op.create_index("ix_draft_kind_updated", "draft", ["kind", "updated_at"], schema="ratings")


def downgrade() -> None:
    op.drop_table("draft", schema="ratings")
    op.drop_column("rater", "withdrawn_at", schema="ratings")
    op.drop_column("rater", "declined_at", schema="ratings")
    op.drop_column("rater", "replaces_rater_id", schema="ratings")
    op.execute("DELETE FROM ratings.rater WHERE link_token_sha256 IS NULL")
    op.alter_column("rater", "link_token_sha256", nullable=False, schema="ratings")
    op.drop_column("cycle", "participant_name", schema="ratings")
