"""The public paths of the one origin (deploy/frontdoor/routes.py). From every app's own route table
(each app built, never started: no Kafka, no database): no two services serve a path one request
could match, bar what every service serves the same way and the operators' APIs (the front door
reaches those under a per-service prefix); PUBLIC_ROUTES sends every public route of every service,
whatever its path parameters, to the service that serves it, and names nothing no one serves (the
drift guard); the console's pages link only to its own paths; the Kubernetes Ingress routes the same
paths on each service's host. A path parameter (`{token}`) stands for any one non-empty segment."""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import combinations

import pytest

from deploy.frontdoor.routes import PUBLIC_ROUTES, PublicRoute, route_for
from deploy.k8s import generate
from tests.config import REPO
from tests.unit.route_tables import SERVICES, Route, route_tables

# what every service serves the same way: the front door routes these itself
SHARED = ("/healthz", "/metrics", "/openapi.json", "/docs", "/redoc", "/assets")
# the operators' APIs are reached under a per-service prefix, but for these, which anyone may call
PUBLIC_JSON = {("POST", "/api/cycles"): "invitations", ("GET", "/api/facilitators"): "scheduling"}
Served = dict[str, frozenset[Route]]


@pytest.fixture(scope="module")
def served() -> Served:
    return route_tables()


def shared(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in SHARED)


def public(path: str) -> bool:
    """A page anyone's browser asks for: not what every service has, not an operators' API."""
    return not shared(path) and path != "/api" and not path.startswith("/api/")


def public_routes(served: Served) -> Iterator[tuple[str, str, str]]:
    for service in SERVICES:
        for method, path in sorted(served[service]):
            if public(path):
                yield service, method, path


# --- matching path patterns ---------------------------------------------------------------------


def segments(path: str) -> list[str]:
    return path.split("/")[1:]  # "/" -> [""], "/console/" -> ["console", ""]


def is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def same_segment(a: str, b: str) -> bool:
    """Whether one request segment could match both (a parameter never matches an empty segment)."""
    if is_param(a) or is_param(b):
        return (is_param(a) or a != "") and (is_param(b) or b != "")
    return a == b


def overlap(a: str, b: str) -> bool:
    """Whether one request path could match both patterns."""
    sa, sb = segments(a), segments(b)
    return len(sa) == len(sb) and all(map(same_segment, sa, sb))


def could_take(entry: PublicRoute, pattern: str) -> bool:
    """Whether the front door could send to `entry` some request the pattern matches."""
    if entry.kind == "exact":
        return overlap(entry.path, pattern)
    head, parts = segments(entry.path)[:-1], segments(pattern)
    return len(parts) > len(head) and all(map(same_segment, head, parts))


def takes_all(entry: PublicRoute, pattern: str) -> bool:
    """Whether `entry` matches every request the pattern matches."""
    if entry.kind == "exact":
        return entry.path == pattern and not any(map(is_param, segments(pattern)))
    head, parts = segments(entry.path)[:-1], segments(pattern)
    return len(parts) > len(head) and parts[: len(head)] == head


def test_the_pattern_matching_this_test_relies_on() -> None:
    assert overlap("/r/{token}", "/r/check") and not overlap("/r/{token}", "/r/{token}/check")
    assert not overlap("/console/", "/console/{page}") and not overlap("/", "/{token}")
    prefix = PublicRoute("/report/", "reports", "prefix")
    assert takes_all(prefix, "/report/{token}") and takes_all(prefix, "/report/self-assessment/{id}/{token}")
    assert not could_take(prefix, "/report") and not could_take(prefix, "/report.css")
    under_a = PublicRoute("/a/", "x", "prefix")
    assert could_take(under_a, "/{b}/c") and not takes_all(under_a, "/{b}/c")


def test_no_path_uses_a_converter_that_spans_segments(served: Served) -> None:
    """`{name:path}` would match several segments: the matching above would need to learn it."""
    assert not [(s, m, p) for s, m, p in public_routes(served) if ":path}" in p]


# --- the services' paths ------------------------------------------------------------------------


def test_no_two_services_serve_a_path_one_request_could_match(served: Served) -> None:
    clashes = [
        (a, method_a, path_a, b, path_b)
        for a, b in combinations(SERVICES, 2)
        for method_a, path_a in served[a]
        for method_b, path_b in served[b]
        if method_a == method_b and public(path_a) and public(path_b) and overlap(path_a, path_b)
    ]
    assert not sorted(clashes), f"one origin, two services: {sorted(clashes)}"


def test_every_public_route_is_sent_to_the_service_that_serves_it(served: Served) -> None:
    """Whatever its parameters: some entry of that service matches every such request, and no entry
    of another service matches any (the front door chooses an exact path, else the longest prefix)."""
    problems = []
    for service, method, path in public_routes(served):
        takers = [entry for entry in PUBLIC_ROUTES if could_take(entry, path)]
        if not any(e.service == service and takes_all(e, path) for e in takers):
            problems.append(f"{service} {method} {path}: not routed to {service} (add it to PUBLIC_ROUTES)")
        problems += [f"{service} {method} {path}: {e} could take it" for e in takers if e.service != service]
    assert not problems, "\n".join(problems)


def test_every_entry_is_served_by_its_service(served: Served) -> None:
    dead = [e for e in PUBLIC_ROUTES if not any(could_take(e, path) for _, path in served[e.service])]
    assert not dead, f"routed to a service that serves nothing there: {dead}"
    assert len({e.path for e in PUBLIC_ROUTES}) == len(PUBLIC_ROUTES), "one entry per path"
    assert all(e.kind == "exact" or e.path.endswith("/") for e in PUBLIC_ROUTES), "a prefix ends in /"


def test_the_public_json_routes_and_nothing_else_of_the_apis_are_routed(served: Served) -> None:
    for (method, path), service in PUBLIC_JSON.items():
        assert (method, path) in served[service]
        assert route_for(path) == PublicRoute(path, service, "exact")
    apis = {e.path for e in PUBLIC_ROUTES if not public(e.path)}
    assert apis == {path for _, path in PUBLIC_JSON}, "the operators' APIs are the front door's, per service"
    for path in ("/api", "/api/cycles/1", "/api/sessions", "/healthz", "/metrics", "/openapi.json", "/assets/init.js"):
        assert route_for(path) is None, f"{path} is routed by the front door itself"


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/", "invitations"),
        ("/start", "invitations"),
        ("/startle", None),
        ("/self-assessment", "ratings"),
        ("/self-assessment/a-token/check", "ratings"),
        ("/report/self-assessment/0b0c7c1e-3a52-4a8e-9d55-6d1f1b0b8d21/a-token", "reports"),
        ("/report/a-token/pdf", "reports"),
        ("/report.css", "reports"),
        ("/console", "console"),
        ("/console/dead-letters", "console"),
        ("/sign-in", None),
        ("/dead-letters", None),
    ],
)
def test_route_for_chooses_as_the_front_door_does(path: str, service: str | None) -> None:
    chosen = route_for(path)
    assert (chosen.service if chosen else None) == service


# --- the console's links, and the Kubernetes Ingress ---------------------------------------------

CONSOLE_TEMPLATES = REPO / "services" / "console" / "src" / "console" / "templates"
LINK = re.compile(r'(?:href|action)="(/[^"]*)"')


def test_the_console_links_only_to_its_own_pages(served: Served) -> None:
    """Every root-relative href and form action of its templates is a path the console serves."""
    found = 0
    for template in sorted(CONSOLE_TEMPLATES.rglob("*.html")):
        for link in LINK.findall(template.read_text(encoding="utf-8")):
            path = re.sub(r"\{\{.*?\}\}", "x", link).split("?", 1)[0]
            found += 1
            assert path.startswith("/console/"), f"{template.name}: {link}"
            assert any(overlap(pattern, path) for _, pattern in served["console"]), f"{template.name}: {link}"
    assert found >= 10


def test_the_ingress_routes_the_same_paths_on_each_services_host() -> None:
    """Kubernetes gives each service its own host; its Ingress paths still cover the table's entries."""
    paths = {
        rule["host"].split(".", 1)[0]: [(p["path"], p["pathType"]) for p in rule["http"]["paths"]]
        for rule in generate.ingress()["spec"]["rules"]
    }

    def routed(entry: PublicRoute) -> bool:
        wanted = segments(entry.path.rstrip("/") or "/")
        for path, kind in paths[entry.service]:
            given = segments(path.rstrip("/") or "/")
            if kind == "Exact" and entry.kind == "exact" and given == wanted:
                return True
            if kind == "Prefix" and (given == [""] or wanted[: len(given)] == given):  # element-wise, as Kubernetes
                return True
        return False

    assert not [e for e in PUBLIC_ROUTES if not routed(e)]
