"""Pure rules of the reports service (no database, web or broker framework), one module per part:

- `anonymity`: which groups may be shown, pooled or suppressed; the figure of one answer set (atoms)
- `report`: a cycle's 360 report figures, and progress since an earlier report
- `cohort`: a programme's cohort figures and the snapshot rule
- `self_assessment`: the private self-assessment's figures
- `figures`: the typed figures (frozen pydantic models) that rendering and storage receive
"""

from reports.domain.anonymity import (
    ALL_OTHERS,
    ANONYMOUS_COLUMNS,
    ANONYMOUS_GROUPS,
    COMBINED,
    GROUP_LABELS,
    IMPORTANCE,
    MIN_THRESHOLD,
    SCORES,
    TOP_BEHAVIOURS,
    WITHHELD,
    Answer,
    Behaviour,
    Comment,
    Disclosure,
    ReportGroup,
    Response,
    Wording,
    atom,
    check_threshold,
    combine,
    decide_disclosure,
    question_title,
    responses_complete,
    summarise,
)
from reports.domain.cohort import COHORT_COLUMNS, cohort_figures, cohort_snapshot_allowed
from reports.domain.figures import (
    CohortFigures,
    Comparison,
    Figure,
    ReportFigures,
    SelfAssessmentFigures,
)
from reports.domain.report import compare, compile_figures
from reports.domain.self_assessment import self_assessment_figures

__all__ = [
    "ALL_OTHERS",
    "ANONYMOUS_COLUMNS",
    "ANONYMOUS_GROUPS",
    "COHORT_COLUMNS",
    "COMBINED",
    "GROUP_LABELS",
    "IMPORTANCE",
    "MIN_THRESHOLD",
    "SCORES",
    "TOP_BEHAVIOURS",
    "WITHHELD",
    "Answer",
    "Behaviour",
    "CohortFigures",
    "Comment",
    "Comparison",
    "Disclosure",
    "Figure",
    "ReportFigures",
    "ReportGroup",
    "Response",
    "SelfAssessmentFigures",
    "Wording",
    "atom",
    "check_threshold",
    "cohort_figures",
    "cohort_snapshot_allowed",
    "combine",
    "compare",
    "compile_figures",
    "decide_disclosure",
    "question_title",
    "responses_complete",
    "self_assessment_figures",
    "summarise",
]
