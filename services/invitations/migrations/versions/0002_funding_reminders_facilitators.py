"""Funding ledger, reminders, rater status history, facilitator read model.

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
S = "invitations"


def upgrade() -> None:
    op.add_column("cycle", sa.Column("original_deadline", TZ), schema=S)
    op.execute("UPDATE invitations.cycle SET original_deadline = deadline")
    op.add_column("cycle", sa.Column("amount_net", sa.Numeric(10, 2)), schema=S)
    op.add_column("cycle", sa.Column("amount_vat", sa.Numeric(10, 2)), schema=S)
    op.add_column("cycle", sa.Column("correlation_id", sa.Uuid), schema=S)
    op.add_column("cycle", sa.Column("close_requested_at", TZ), schema=S)
    op.add_column("cycle", sa.Column("closed_at", TZ), schema=S)
    op.add_column("cycle", sa.Column("report_released_at", TZ), schema=S)
    op.create_check_constraint("ck_cycle_amount_positive", "cycle", "amount_due > 0", schema=S)

    op.add_column("rater", sa.Column("invited_at", TZ), schema=S)
    op.add_column("rater", sa.Column("status_changed_at", TZ), schema=S)
    op.add_column("rater", sa.Column("status_note", sa.Text), schema=S)
    op.add_column("rater", sa.Column("replaces_rater_id", sa.Uuid), schema=S)
    op.execute(
        "UPDATE invitations.rater r SET invited_at = e.sent_at FROM invitations.outgoing_email e "
        "WHERE e.rater_id = r.id AND e.kind = 'invitation' AND e.sent_at IS NOT NULL"
    )
    op.create_index("ix_rater_email_lower", "rater", [sa.text("lower(email)")], schema=S)
    op.create_index("ix_rater_pending", "rater", ["status"], schema=S, postgresql_where=sa.text("status = 'invited'"))

    op.add_column("outgoing_email", sa.Column("gave_up_at", TZ), schema=S)
    op.add_column("outgoing_email", sa.Column("context", postgresql.JSONB), schema=S)

    op.create_table(
        "reminder",
        sa.Column("rater_id", sa.Uuid, sa.ForeignKey("invitations.rater.id"), primary_key=True),
        sa.Column("stage_days", sa.Integer, primary_key=True),
        sa.Column("email_id", sa.Uuid, sa.ForeignKey("invitations.outgoing_email.id"), nullable=False, index=True),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_table(
        "credit_account",
        sa.Column("reference", sa.String, primary_key=True),
        sa.Column("programme", sa.String, nullable=False),
        sa.Column("balance", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("balance >= 0", name="ck_credit_balance_not_negative"),
        schema=S,
    )
    op.create_table(
        "credit_entry",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column(
            "reference", sa.String, sa.ForeignKey("invitations.credit_account.reference"), nullable=False, index=True
        ),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("delta", sa.Integer, nullable=False),
        sa.Column("cycle_id", sa.Uuid),
        sa.Column("note", sa.Text),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("kind IN ('top_up', 'debit', 'refund')", name="ck_credit_entry_kind"),
        sa.CheckConstraint(
            "(kind = 'debit' AND delta = -1) OR (kind = 'refund' AND delta = 1) OR (kind = 'top_up' AND delta > 0)",
            name="ck_credit_entry_delta",
        ),
        schema=S,
    )
    op.create_index(
        "uq_credit_entry_cycle_kind",
        "credit_entry",
        ["cycle_id", "kind"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("cycle_id IS NOT NULL"),
    )
    op.create_table(
        "facilitator",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String),
        sa.Column("region", sa.String),
        sa.Column("organisation", sa.String),
        sa.Column("registered", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("accredited", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("status", sa.String),
        sa.Column("status_at", TZ),
        sa.Column("free_slots", sa.Integer),
        sa.Column("next_free_slot_at", TZ),
        sa.Column("modes", sa.String, nullable=False, server_default=""),
        sa.Column("availability_at", TZ),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("facilitator", schema=S)
    op.drop_table("credit_entry", schema=S)
    op.drop_table("credit_account", schema=S)
    op.drop_table("reminder", schema=S)
    op.drop_column("outgoing_email", "context", schema=S)
    op.drop_column("outgoing_email", "gave_up_at", schema=S)
    op.drop_index("ix_rater_pending", "rater", schema=S)
    op.drop_index("ix_rater_email_lower", "rater", schema=S)
    for column in ("replaces_rater_id", "status_note", "status_changed_at", "invited_at"):
        op.drop_column("rater", column, schema=S)
    op.drop_constraint("ck_cycle_amount_positive", "cycle", schema=S)
    for column in (
        "report_released_at",
        "closed_at",
        "close_requested_at",
        "correlation_id",
        "amount_vat",
        "amount_net",
        "original_deadline",
    ):
        op.drop_column("cycle", column, schema=S)
