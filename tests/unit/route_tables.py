"""Every app's route table, for unit tests of what the front door and the Ingress route: each app is
built with made-up settings and never started (no Kafka, no database; the lifespan never runs)."""

from __future__ import annotations

from functools import cache

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from console.config import ConsoleSettings
from console.main import create_app as console_app
from invitations.config import Settings as InvitationsSettings
from invitations.main import create_app as invitations_app
from observations.config import Settings as ObservationsSettings
from observations.main import create_app as observations_app
from ratings.config import Settings as RatingsSettings
from ratings.main import create_app as ratings_app
from reports.config import Settings as ReportsSettings
from reports.main import create_app as reports_app
from scheduling.config import Settings as SchedulingSettings
from scheduling.main import create_app as scheduling_app

SERVICES = ("invitations", "ratings", "reports", "scheduling", "observations", "console")
MADE_UP = {
    "database_url": "postgresql+asyncpg://u:pw@127.0.0.1:1/d",
    "link_secret": "a-link-secret-for-building-the-app-only",
    "otlp_endpoint": None,
}

Route = tuple[str, str]  # (method, path pattern)


def served_routes(app: FastAPI) -> frozenset[Route]:
    """(method, path) of every route the app serves (HEAD goes with GET; a mount is one GET)."""
    routes: set[Route] = set()
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if isinstance(route.original_route, Mount):
            routes.add(("GET", path))
        else:
            routes |= {(method, path) for method in route.methods or () if method != "HEAD"}
    return frozenset(routes)


@cache
def route_tables() -> dict[str, frozenset[Route]]:
    """Each service's (and the console's) routes, by name."""
    apps = {
        "invitations": invitations_app(InvitationsSettings(**MADE_UP)),  # type: ignore[arg-type]
        "ratings": ratings_app(RatingsSettings(**MADE_UP)),  # type: ignore[arg-type]
        "reports": reports_app(ReportsSettings(**MADE_UP)),  # type: ignore[arg-type]
        "scheduling": scheduling_app(SchedulingSettings(**MADE_UP)),  # type: ignore[arg-type]
        "observations": observations_app(ObservationsSettings(**MADE_UP)),  # type: ignore[arg-type]
        "console": console_app(ConsoleSettings(session_secret="a-session-secret-for-building-only")),
    }
    return {service: served_routes(app) for service, app in apps.items()}
