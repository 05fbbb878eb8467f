"""The attention list lives on `booking_request`: `unscheduled_cycle` repeated the booking request's
facts, so its reason and retry bookkeeping become columns of `booking_request` and the table goes.

`unscheduled_reason` (text, null): why nothing could be offered yet; set = the cycle is on the
attention list, cleared once the booking is offered or booked. `offer_attempts` (int, 0): attempts
that found nothing to offer. `last_offer_attempt_at`: the last of them (the retry job's order).

Data: every `unscheduled_cycle` row gives its booking request its attempts and last attempt, and
its reason while not yet scheduled. A waiting cycle without a booking request (recorded before
0003) gets one, created when it was first seen, as the retry job used to do; a scheduled one without
a booking request is dropped (nothing reads it). Downgrade rebuilds `unscheduled_cycle` from the
booking requests with attempts (first seen = report ready, as the service has always recorded it).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

S = "scheduling"
OPEN_INDEX = "ix_booking_request_unscheduled"


def upgrade() -> None:
    op.add_column("booking_request", sa.Column("unscheduled_reason", sa.Text), schema=S)
    op.add_column(
        "booking_request", sa.Column("offer_attempts", sa.Integer, nullable=False, server_default="0"), schema=S
    )
    op.add_column("booking_request", sa.Column("last_offer_attempt_at", sa.DateTime(timezone=True)), schema=S)
    op.execute("""
        INSERT INTO scheduling.booking_request
            (cycle_id, report_id, participant_id, organisation, region, chosen_facilitator_id, correlation_id,
             created_at)
        SELECT cycle_id, report_id, participant_id, organisation, region, chosen_facilitator_id, correlation_id,
               first_seen_at
        FROM scheduling.unscheduled_cycle
        WHERE scheduled_at IS NULL
        ON CONFLICT (cycle_id) DO NOTHING
    """)
    op.execute("""
        UPDATE scheduling.booking_request AS request
        SET unscheduled_reason = CASE WHEN waiting.scheduled_at IS NULL THEN waiting.reason END,
            offer_attempts = waiting.attempts,
            last_offer_attempt_at = waiting.last_attempt_at
        FROM scheduling.unscheduled_cycle AS waiting
        WHERE waiting.cycle_id = request.cycle_id
    """)
    op.create_index(
        OPEN_INDEX,
        "booking_request",
        ["last_offer_attempt_at"],
        schema=S,
        postgresql_where=sa.text("unscheduled_reason IS NOT NULL"),
    )
    op.drop_index("ix_unscheduled_cycle_open", "unscheduled_cycle", schema=S)
    op.drop_table("unscheduled_cycle", schema=S)


def downgrade() -> None:
    # As 0001 created it.
    op.execute("""
        CREATE TABLE scheduling.unscheduled_cycle (
            cycle_id UUID PRIMARY KEY,
            report_id UUID NOT NULL,
            participant_id VARCHAR NOT NULL,
            organisation VARCHAR NOT NULL,
            region VARCHAR NOT NULL,
            chosen_facilitator_id UUID,
            correlation_id UUID,
            reason TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 1,
            first_seen_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
            last_attempt_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
            scheduled_at TIMESTAMP WITH TIME ZONE
        )
    """)
    op.create_index(
        "ix_unscheduled_cycle_open",
        "unscheduled_cycle",
        ["last_attempt_at"],
        schema=S,
        postgresql_where=sa.text("scheduled_at IS NULL"),
    )
    # A cycle off the list keeps its attempts but not its last reason, nor when it left the list:
    # the reason was only shown while waiting, and it left no earlier than its last attempt.
    op.execute("""
        INSERT INTO scheduling.unscheduled_cycle
            (cycle_id, report_id, participant_id, organisation, region, chosen_facilitator_id, correlation_id,
             reason, attempts, first_seen_at, last_attempt_at, scheduled_at)
        SELECT cycle_id, report_id, participant_id, organisation, region, chosen_facilitator_id, correlation_id,
               coalesce(unscheduled_reason, ''), greatest(offer_attempts, 1), created_at,
               coalesce(last_offer_attempt_at, created_at),
               CASE WHEN unscheduled_reason IS NULL THEN coalesce(offered_at, last_offer_attempt_at, created_at) END
        FROM scheduling.booking_request
        WHERE unscheduled_reason IS NOT NULL OR offer_attempts > 0
    """)
    op.drop_index(OPEN_INDEX, "booking_request", schema=S)
    for column in ("last_offer_attempt_at", "offer_attempts", "unscheduled_reason"):
        op.drop_column("booking_request", column, schema=S)
