"""Who serves which public path on the one origin (the front door): each service's pages, read off
the services' route tables, so no path needs another service to know its prefix. The front door
routes these itself, so they are not here: `/healthz`, `/metrics`, `/assets`, `/openapi.json` (every
service has them) and the operators' APIs under `/api/...` (reached under a per-service prefix),
except the two JSON routes anyone may call. tests/unit/test_public_routes.py checks that every
public route of every service is routed here to the service that serves it, and that no two
services serve the same path."""

from __future__ import annotations

from typing import Literal, NamedTuple

Kind = Literal["prefix", "exact"]


class PublicRoute(NamedTuple):
    path: str  # an exact path, or a prefix ending in `/`
    service: str
    kind: Kind


PUBLIC_ROUTES: list[PublicRoute] = [
    PublicRoute("/", "invitations", "exact"),  # the start page
    PublicRoute("/start", "invitations", "exact"),
    PublicRoute("/started/", "invitations", "prefix"),
    PublicRoute("/confirm/", "invitations", "prefix"),
    PublicRoute("/p/", "invitations", "prefix"),
    PublicRoute("/approve/", "invitations", "prefix"),
    PublicRoute("/api/cycles", "invitations", "exact"),  # POST: a 360 requested by another system
    PublicRoute("/r/", "ratings", "prefix"),
    PublicRoute("/self-assessment", "ratings", "exact"),
    PublicRoute("/self-assessment/", "ratings", "prefix"),
    PublicRoute("/report/", "reports", "prefix"),  # and the self-assessment report, /report/self-assessment/
    PublicRoute("/cohort/", "reports", "prefix"),
    PublicRoute("/report.css", "reports", "exact"),
    PublicRoute("/report-status.js", "reports", "exact"),
    PublicRoute("/book/", "scheduling", "prefix"),
    PublicRoute("/facilitator/", "scheduling", "prefix"),
    PublicRoute("/lead/", "scheduling", "prefix"),
    # The facilitators' directory. Invitations answers GET /api/facilitators too (the facilitators a
    # participant may choose now, with free slots): there, it is reached under invitations' API prefix.
    PublicRoute("/api/facilitators", "scheduling", "exact"),
    PublicRoute("/observations", "observations", "exact"),  # the journal's start page
    PublicRoute("/observations/", "observations", "prefix"),
    PublicRoute("/console", "console", "exact"),  # redirects to /console/
    PublicRoute("/console/", "console", "prefix"),
]


def route_for(path: str) -> PublicRoute | None:
    """The entry the front door chooses for a request path, as nginx does: an exact path first,
    else the longest prefix; None when no service's page is there."""
    exact = [r for r in PUBLIC_ROUTES if r.kind == "exact" and r.path == path]
    if exact:
        return exact[0]
    prefixes = [r for r in PUBLIC_ROUTES if r.kind == "prefix" and path.startswith(r.path)]
    return max(prefixes, key=lambda r: len(r.path), default=None)
