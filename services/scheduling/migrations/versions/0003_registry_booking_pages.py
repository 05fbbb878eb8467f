"""Participant-chosen bookings with confirmation, reschedule/cancel (calendar sequence), outcomes,
regional leads, call-outs, CPD events and expressions of interest.

Regional leads are managed data (`python -m scheduling regional-lead set`): this revision used to
insert fictional ones for the demo; migrations insert no people (ADR 11). The facilitator's
directory columns moved to 0002 and the mail outbox to 0004 (no deployment existed yet).

A cancelled session frees its cycle: the cycle uniqueness becomes a partial index on live sessions.
Slots of one facilitator may not overlap (exclusion constraint, like sessions).

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

TZ = sa.DateTime(timezone=True)
S = "scheduling"


def upgrade() -> None:
    op.add_column("slot", sa.Column("location", sa.String), schema=S)
    op.execute(
        "ALTER TABLE scheduling.slot ADD CONSTRAINT ex_slot_facilitator_overlap "
        "EXCLUDE USING gist (facilitator_id WITH =, tstzrange(starts_at, ends_at) WITH &&)"
    )

    op.drop_constraint("uq_session_cycle_id", "session", schema=S)
    op.create_index(
        "uq_session_cycle_live",
        "session",
        ["cycle_id"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("status <> 'cancelled'"),
    )
    op.drop_constraint("ck_session_status", "session", schema=S)
    op.create_check_constraint(
        "ck_session_status",
        "session",
        "status IN ('requested', 'booked', 'completed', 'no_show', 'cancelled')",
        schema=S,
    )
    op.add_column("session", sa.Column("sequence", sa.Integer, nullable=False, server_default="0"), schema=S)
    op.add_column("session", sa.Column("location", sa.String), schema=S)
    op.add_column("session", sa.Column("confirmed_at", TZ), schema=S)
    op.add_column("session", sa.Column("outcome_at", TZ), schema=S)
    op.add_column("session", sa.Column("cancelled_by", sa.String), schema=S)
    op.add_column("session", sa.Column("reminder_sent_at", TZ), schema=S)
    op.add_column("session", sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()), schema=S)

    op.create_table(
        "participant",
        sa.Column("cycle_id", sa.Uuid, primary_key=True),
        sa.Column("participant_id", sa.String, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("email", sa.String),
        sa.Column("organisation", sa.String, nullable=False),
        sa.Column("region", sa.String, nullable=False),
        sa.Column("facilitator_id", sa.Uuid),
        schema=S,
    )
    op.create_table(
        "booking_request",
        sa.Column("cycle_id", sa.Uuid, primary_key=True),
        sa.Column("report_id", sa.Uuid, nullable=False),
        sa.Column("participant_id", sa.String, nullable=False),
        sa.Column("organisation", sa.String, nullable=False),
        sa.Column("region", sa.String, nullable=False),
        sa.Column("chosen_facilitator_id", sa.Uuid),
        sa.Column("correlation_id", sa.Uuid),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("offered_at", TZ),
        sa.Column("escalated_at", TZ),
        schema=S,
    )
    op.create_table(
        "regional_lead",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("region", sa.String, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("email", sa.String, nullable=False),
        sa.UniqueConstraint("region", name="uq_regional_lead_region"),
        schema=S,
    )
    op.create_table(
        "callout",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("lead_id", sa.Uuid, sa.ForeignKey("scheduling.regional_lead.id"), nullable=False),
        sa.Column("region", sa.String, nullable=False),
        sa.Column("title", sa.String, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("mode", sa.String, nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("participants", sa.Integer, nullable=False),
        sa.Column("register_by", sa.Date, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("mode IN ('virtual', 'in_person', 'either')", name="ck_callout_mode"),
        sa.CheckConstraint("period_end >= period_start", name="ck_callout_period"),
        sa.CheckConstraint("participants > 0", name="ck_callout_participants"),
        schema=S,
    )
    op.create_table(
        "callout_volunteer",
        sa.Column("callout_id", sa.Uuid, sa.ForeignKey("scheduling.callout.id"), primary_key=True),
        sa.Column("facilitator_id", sa.Uuid, sa.ForeignKey("scheduling.facilitator.id"), primary_key=True),
        sa.Column("sessions_offered", sa.Integer, nullable=False),
        sa.Column("volunteered_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("sessions_offered > 0", name="ck_callout_volunteer_sessions"),
        schema=S,
    )
    op.create_table(
        "cpd_event",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("lead_id", sa.Uuid, sa.ForeignKey("scheduling.regional_lead.id"), nullable=False),
        sa.Column("region", sa.String, nullable=False),
        sa.Column("title", sa.String, nullable=False),
        sa.Column("starts_at", TZ, nullable=False),
        sa.Column("ends_at", TZ, nullable=False),
        sa.Column("venue", sa.String, nullable=False),
        sa.Column("places", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("ends_at > starts_at", name="ck_cpd_event_times"),
        sa.CheckConstraint("places > 0", name="ck_cpd_event_places"),
        schema=S,
    )
    op.create_table(
        "cpd_registration",
        sa.Column("event_id", sa.Uuid, sa.ForeignKey("scheduling.cpd_event.id"), primary_key=True),
        sa.Column("facilitator_id", sa.Uuid, sa.ForeignKey("scheduling.facilitator.id"), primary_key=True),
        sa.Column("registered_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("attended", sa.Boolean),
        schema=S,
    )
    op.create_table(
        "cpd_interest",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("facilitator_id", sa.Uuid, sa.ForeignKey("scheduling.facilitator.id"), nullable=False),
        sa.Column("region", sa.String, nullable=False),
        sa.Column("mode", sa.String, nullable=False),
        sa.Column("months", postgresql.ARRAY(sa.String), nullable=False),
        sa.Column("topics", sa.Text),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("mode IN ('virtual', 'in_person', 'either')", name="ck_cpd_interest_mode"),
        schema=S,
    )


def downgrade() -> None:
    for table in (
        "cpd_interest",
        "cpd_registration",
        "cpd_event",
        "callout_volunteer",
        "callout",
        "regional_lead",
        "booking_request",
        "participant",
    ):
        op.drop_table(table, schema=S)
    for column in (
        "updated_at",
        "reminder_sent_at",
        "cancelled_by",
        "outcome_at",
        "confirmed_at",
        "location",
        "sequence",
    ):
        op.drop_column("session", column, schema=S)
    op.drop_constraint("ck_session_status", "session", schema=S)
    op.create_check_constraint(
        "ck_session_status", "session", "status IN ('booked', 'completed', 'cancelled')", schema=S
    )
    op.drop_index("uq_session_cycle_live", "session", schema=S)
    op.create_unique_constraint("uq_session_cycle_id", "session", ["cycle_id"], schema=S)
    op.execute("ALTER TABLE scheduling.slot DROP CONSTRAINT ex_slot_facilitator_overlap")
    op.drop_column("slot", "location", schema=S)
