"""Facilitator registry (contact, time zone, CPD), participant-chosen bookings with confirmation,
reschedule/cancel (calendar sequence), outcomes, mail outbox, regional leads, call-outs, CPD events
and expressions of interest.

A cancelled session frees its cycle: the cycle uniqueness becomes a partial index on live sessions.
Slots of one facilitator may not overlap (exclusion constraint, like sessions).

Revision ID: 0003
Revises: 0002
"""

from uuid import UUID

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
S = "scheduling"

# Fictional regional leads, one per NHS England region (documented in the service README).
LEAD_ID = "1d0c5a7e-0b1f-4e55-9a51-3c6f0a1e2b0"
REGIONAL_LEADS = [
    (UUID(f"{LEAD_ID}1"), "London", "Hannah Okoro", "london.lead@hlm360.example.nhs.uk"),
    (UUID(f"{LEAD_ID}2"), "South East", "Tom Whitfield", "southeast.lead@hlm360.example.nhs.uk"),
    (UUID(f"{LEAD_ID}3"), "South West", "Kerensa Pascoe", "southwest.lead@hlm360.example.nhs.uk"),
    (UUID(f"{LEAD_ID}4"), "Midlands", "Rajinder Bassi", "midlands.lead@hlm360.example.nhs.uk"),
    (UUID(f"{LEAD_ID}5"), "East of England", "Claire Ashby", "east.lead@hlm360.example.nhs.uk"),
    (UUID(f"{LEAD_ID}6"), "North West", "Declan Murphy", "northwest.lead@hlm360.example.nhs.uk"),
    (UUID(f"{LEAD_ID}7"), "North East and Yorkshire", "Aisha Rahman", "neyorks.lead@hlm360.example.nhs.uk"),
]


def upgrade() -> None:
    op.add_column("facilitator", sa.Column("phone", sa.String), schema=S)
    op.add_column(
        "facilitator", sa.Column("timezone", sa.String, nullable=False, server_default="Europe/London"), schema=S
    )
    op.add_column("facilitator", sa.Column("registered_at", TZ, nullable=False, server_default=sa.func.now()), schema=S)
    op.add_column("facilitator", sa.Column("announced_at", TZ), schema=S)

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
    lead = sa.table(
        "regional_lead",
        sa.column("id", sa.Uuid),
        sa.column("region", sa.String),
        sa.column("name", sa.String),
        sa.column("email", sa.String),
        schema=S,
    )
    op.execute(
        postgresql.insert(lead)
        .values([{"id": i, "region": r, "name": n, "email": e} for i, r, n, e in REGIONAL_LEADS])
        .on_conflict_do_nothing()
    )
    op.create_table(
        "outgoing_email",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("cycle_id", sa.Uuid),
        sa.Column("to_address", sa.String, nullable=False),
        sa.Column("subject", sa.String, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("ics", sa.LargeBinary),
        sa.Column("ics_method", sa.String),
        sa.Column("created_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", TZ),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("last_error", sa.Text),
        schema=S,
    )
    op.create_index(
        "ix_outgoing_email_due",
        "outgoing_email",
        ["next_attempt_at"],
        schema=S,
        postgresql_where=sa.text("sent_at IS NULL"),
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
        "outgoing_email",
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
    for column in ("announced_at", "registered_at", "timezone", "phone"):
        op.drop_column("facilitator", column, schema=S)
