"""The authorisation matrix (authz_matrix.py) against the four services running in-process: every
route of every service is in the matrix and nothing else is; then one real request per route and
caller, with the caller's own credential, is answered as the matrix says (allowed: not refused;
refused: 401, 403 or 404). Test ids name service, method, path and caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from tests.config import StackSettings
from tests.integration.authz_callers import call
from tests.integration.authz_matrix import MATRIX, cases
from tests.integration.authz_seed import SERVICES, Matrix, running_matrix
from tests.integration.test_staff_sign_in import IssuerServer

REFUSED = frozenset({401, 403, 404})
NOT_LET_IN = REFUSED | {410, 429}  # an expired link, or too many tries: not past the check either


@pytest.fixture(scope="module")
def issuer() -> Iterator[IssuerServer]:
    server = IssuerServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
async def matrix(
    settings: StackSettings, issuer: IssuerServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Matrix]:
    async with running_matrix(settings, issuer, tmp_path_factory.mktemp("authz")) as running:
        yield running


def served_routes(app: FastAPI) -> set[str]:
    """`METHOD /path` of every route the app serves (HEAD goes with GET; a mount is one GET)."""
    routes = set()
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            routes.add(f"GET {route.path}")
        else:
            routes |= {f"{method} {route.path}" for method in route.methods or () if method != "HEAD"}
    return routes


@pytest.mark.parametrize("service", SERVICES)
async def test_every_route_is_in_the_matrix_and_every_matrix_route_is_served(matrix: Matrix, service: str) -> None:
    served = served_routes(matrix.services[service].app)
    declared = set(MATRIX[service])
    assert not served - declared, f"{service}: routes nobody decided who may call: {sorted(served - declared)}"
    assert not declared - served, f"{service}: the matrix names routes no longer served: {sorted(declared - served)}"


def case_id(service: str, method: str, path: str, caller: str, allowed: bool) -> str:
    return f"{service} {method} {path} as {caller}"


@pytest.mark.parametrize(
    ("service", "method", "path", "caller", "allowed"), [pytest.param(*c, id=case_id(*c)) for c in cases()]
)
async def test_each_caller_is_let_in_or_refused_as_the_matrix_says(
    matrix: Matrix, service: str, method: str, path: str, caller: str, allowed: bool
) -> None:
    request = call(service, method, path, caller, matrix.seeded)
    response = await matrix.clients[service].request(
        request.method, request.url, headers=request.headers, params=request.params, **request.body
    )
    status = response.status_code
    if allowed:
        assert status < 500 and status not in NOT_LET_IN, (
            f"{caller} should be let in to {service} {method} {path} ({request.url}): {status} {response.text[:300]}"
        )
    else:
        assert status in REFUSED, f"{caller} should be refused by {service} {method} {path} ({request.url}): {status}"
