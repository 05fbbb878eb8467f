"""Use cases of the ratings service, one module per feature. Each runs inside the caller's unit of
work; the caller (a Kafka handler, the HTTP route or a job) commits, so one use case is one transaction.

- `cycles`: cycles and raters from invitations' events; closing (all answered, deadline, early)
- `submission`: the rater's link, the saved draft, sending the answers
- `declines`: a rater declines
- `self_assessment`: the free self-assessment
"""

from ratings.usecases.common import Access, RaterAccess
from ratings.usecases.cycles import (
    CycleSummary,
    close_cycle_early,
    close_next_due_cycle,
    close_on_request,
    cycle_summary,
    extend_deadline,
    record_cycle_opened,
    record_rater_nominated,
    record_rater_withdrawn,
)
from ratings.usecases.declines import decline
from ratings.usecases.self_assessment import (
    SelfAssessment,
    complete_self_assessment,
    delete_stale_self_assessments,
    save_self_assessment_page,
    self_assessment,
    start_self_assessment,
)
from ratings.usecases.submission import rater_access, save_rater_page, submit_response

__all__ = [
    "Access",
    "CycleSummary",
    "RaterAccess",
    "SelfAssessment",
    "close_cycle_early",
    "close_next_due_cycle",
    "close_on_request",
    "complete_self_assessment",
    "cycle_summary",
    "decline",
    "delete_stale_self_assessments",
    "extend_deadline",
    "rater_access",
    "record_cycle_opened",
    "record_rater_nominated",
    "record_rater_withdrawn",
    "save_rater_page",
    "save_self_assessment_page",
    "self_assessment",
    "start_self_assessment",
    "submit_response",
]
