"""PROVISIONAL (replaced by the issue14-routes branch)."""

PUBLIC_ROUTES = [
    ("/", "invitations", "exact"),
    ("/start", "invitations", "prefix"),
    ("/started/", "invitations", "prefix"),
    ("/confirm/", "invitations", "prefix"),
    ("/p/", "invitations", "prefix"),
    ("/approve/", "invitations", "prefix"),
    ("/api/cycles", "invitations", "exact"),
    ("/r/", "ratings", "prefix"),
    ("/self-assessment", "ratings", "exact"),
    ("/self-assessment/", "ratings", "prefix"),
    ("/report/", "reports", "prefix"),
    ("/cohort/", "reports", "prefix"),
    ("/report.css", "reports", "exact"),
    ("/report-status.js", "reports", "exact"),
    ("/book/", "scheduling", "prefix"),
    ("/facilitator/", "scheduling", "prefix"),
    ("/lead/", "scheduling", "prefix"),
    ("/api/facilitators", "scheduling", "exact"),
    ("/console", "console", "exact"),
    ("/console/", "console", "prefix"),
]
