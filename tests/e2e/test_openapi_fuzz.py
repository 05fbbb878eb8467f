"""Schemathesis against each running service's OpenAPI: whatever a client sends to a documented
route, valid for the schema or not, the answer is never a 5xx. Each example goes with or without
the service's admin token, so admin routes are fuzzed past the 401 too. `HLM360_FUZZ_EXAMPLES`
bounds the examples per operation (`make fuzz` raises it). Fuzzing POST /api/cycles opens real
cycles and sends their emails.

Each operation runs as a plain Hypothesis test over schemathesis' case strategies: the schemathesis
pytest plugin's lazy (fixture) schema does not run under pytest 9, and the schema can only be
loaded once the services are up, which is after collection."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_settings import BaseSettings, SettingsConfigDict
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.core.result import Err

from tests.config import StackSettings

SERVICES = ("invitations", "ratings", "reports", "scheduling", "observations")
# Fuzzing trips the services' per-client rate limits (unknown links): from its own loopback address
# it does so for itself only, not for the tests that run after it from 127.0.0.1. Not 127.0.0.2: the
# services believe forwarded headers from there (the front door's hop, docs/adr/0024).
FUZZER_ADDRESS = "127.0.0.4"
SHOWN_PER_OPERATION = 3


class FuzzSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HLM360_", extra="ignore")

    fuzz_examples: int = 15


EXAMPLES = FuzzSettings().fuzz_examples


@pytest.mark.parametrize("service", SERVICES)
def test_no_documented_route_answers_5xx(service: str, settings: StackSettings) -> None:
    base_url: str = getattr(settings, f"{service}_url")
    api = schemathesis.openapi.from_url(f"{base_url}/openapi.json", timeout=10)
    # observations has no operators' API, hence no admin token
    admin = settings.admin_headers(service) if hasattr(settings, f"{service}_admin_token") else {}
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    with requests.Session() as session:
        session.mount("http://", _FromAddress(FUZZER_ADDRESS))
        for result in api.get_all_operations():
            if isinstance(result, Err):
                failures.append(f"an operation cannot be fuzzed: {result.err()}")
                continue
            operation = result.ok()
            failures += _server_errors(operation, session=session, base_url=base_url, admin=admin, statuses=statuses)
    assert statuses, f"{service}: no request was sent"
    assert not failures, f"{service}: {len(failures)} answers 5xx (statuses {dict(statuses)}):\n" + "\n".join(failures)


class _FromAddress(requests.adapters.HTTPAdapter):
    """Connects from a given local address."""

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self._address, 0)
        super().init_poolmanager(*args, **kwargs)


def _server_errors(
    operation: APIOperation[Any, Any, Any, Any],
    *,
    session: requests.Session,
    base_url: str,
    admin: dict[str, str],
    statuses: Counter[int],
) -> list[str]:
    """Up to EXAMPLES calls of one operation, each from a valid or an invalid case; the 5xx found
    (not shrunk: shrinking would send many more requests, some of which open cycles)."""
    found: list[str] = []
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=cases, as_admin=st.booleans())
    def call(case: Case[Any], as_admin: bool) -> None:
        headers = admin if as_admin else None
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        statuses[response.status_code] += 1
        if response.status_code >= 500 and len(found) < SHOWN_PER_OPERATION:
            curl = case.as_curl_command(headers=headers, base_url=base_url)
            found.append(f"{operation.label} answered {response.status_code}: {curl}")

    call()
    return found
