"""Use cases of the reports service, one module per feature. Each runs inside the caller's unit of
work; the caller (a Kafka handler, a route or a job) commits, so one use case is one transaction.

- `readmodel`: the cycle's participant, responses and close, from ratings' events
- `compiling`: the 360 report, compiled once the picture is complete
- `release`: facilitators and sessions, release to the participant, the link emails
- `access`: opening a report through its signed link (audited)
- `self_assessment`, `cohorts`: the private self-assessment report; programme cohort reports
- `outgoing`: the context of a queued email when the mail outbox sends it
"""

from reports.usecases.access import Granted, open_report, report_figures, report_location, report_meta
from reports.usecases.cohorts import CohortCreated, create_cohort_report, open_cohort, snapshot_figures
from reports.usecases.common import Refused, hmac_equal, link_for
from reports.usecases.compiling import generate_if_complete, stored_counts
from reports.usecases.outgoing import email_context
from reports.usecases.readmodel import record_cycle_closed, record_cycle_opened, record_rating
from reports.usecases.release import (
    record_facilitator,
    record_session,
    record_session_cancelled,
    record_session_completed,
    release_by_admin,
    resend_participant_link,
)
from reports.usecases.self_assessment import open_self_assessment, own_figures, record_self_assessment

__all__ = [
    "CohortCreated",
    "Granted",
    "Refused",
    "create_cohort_report",
    "email_context",
    "generate_if_complete",
    "hmac_equal",
    "link_for",
    "open_cohort",
    "open_report",
    "open_self_assessment",
    "own_figures",
    "record_cycle_closed",
    "record_cycle_opened",
    "record_facilitator",
    "record_rating",
    "record_self_assessment",
    "record_session",
    "record_session_cancelled",
    "record_session_completed",
    "release_by_admin",
    "report_figures",
    "report_location",
    "report_meta",
    "resend_participant_link",
    "snapshot_figures",
    "stored_counts",
]
