"""The request body limit in a real service app: a JSON API route and a form page both refuse a
body over `http_max_body_bytes`, whether its length is declared or it is streamed in chunks."""

from collections.abc import AsyncIterator

import pytest

from tests.config import StackSettings
from tests.integration.conftest import running_service

LIMIT = 4096
ROUTES = [("/api/cycles", "application/json"), ("/start", "application/x-www-form-urlencoded")]


async def chunks(total: int, size: int = 1000) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


@pytest.mark.parametrize(("path", "content_type"), ROUTES)
async def test_bodies_over_the_limit_are_refused_and_smaller_ones_reach_the_route(
    settings: StackSettings, path: str, content_type: str
) -> None:
    headers = {"Content-Type": content_type}
    async with running_service("invitations", settings, link_secret="x" * 64, http_max_body_bytes=LIMIT) as service:
        declared = await service.client.post(path, content=b"x" * (LIMIT + 1), headers=headers)
        streamed = await service.client.post(path, content=chunks(LIMIT * 50), headers=headers)
        within = await service.client.post(path, content=chunks(LIMIT), headers=headers)
        invalid = await service.client.post(path, content=b"x", headers={**headers, "Content-Length": "x1"})

    assert declared.status_code == 413
    assert "too large" in declared.json()["detail"]
    assert streamed.status_code == 413
    assert "chunked" in streamed.request.headers.get("Transfer-Encoding", "")
    assert within.status_code not in (400, 413) and within.status_code < 500
    assert invalid.status_code == 400
    assert declared.headers["X-Content-Type-Options"] == "nosniff", "the refusal carries the security headers"


async def test_the_default_limit_is_one_mebibyte(settings: StackSettings) -> None:
    async with running_service("invitations", settings, link_secret="x" * 64) as service:
        over = await service.client.post("/api/cycles", content=chunks(1024 * 1024 + 1, size=64 * 1024))
        under = await service.client.post("/api/cycles", json={"padding": "x" * 500_000})
    assert over.status_code == 413
    assert under.status_code == 422
