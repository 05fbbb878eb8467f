"""Who the client is: a service believes X-Forwarded-For and X-Forwarded-Proto only from the front
door's address (`<SERVICE>_FORWARDED_ALLOW_IPS`, docs/adr/0024), so a caller that reaches an instance
directly cannot choose the address its per-client limits count. A real uvicorn server on loopback,
started with the options every service and the console are served with (WebSettings.server_options)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.settings import WebSettings

FRONT_DOOR_HOP = "127.0.0.2"
SPOOFED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"client": request.client.host if request.client else None, "scheme": request.url.scheme})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def serving(settings: WebSettings) -> AsyncIterator[str]:
    config = uvicorn.Config(Starlette(routes=[Route("/", whoami)]), log_config=None, **settings.server_options())
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{settings.http_port}/"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def service() -> AsyncIterator[str]:
    settings = WebSettings(http_port=free_port(), forwarded_allow_ips=FRONT_DOOR_HOP)  # type: ignore[arg-type]
    async for url in serving(settings):
        yield url


async def ask(url: str, *, source: str) -> dict[str, str]:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(transport=transport) as http:
        answer = await http.get(url, headers=SPOOFED)
        answer.raise_for_status()
        body: dict[str, str] = answer.json()
        return body


async def test_a_direct_caller_cannot_say_who_it_is(service: str) -> None:
    assert await ask(service, source="127.0.0.1") == {"client": "127.0.0.1", "scheme": "http"}


async def test_the_front_door_says_who_the_client_is(service: str) -> None:
    assert await ask(service, source=FRONT_DOOR_HOP) == {"client": "203.0.113.9", "scheme": "https"}


async def test_without_a_front_door_nobody_is_believed() -> None:
    async for url in serving(WebSettings(http_port=free_port())):  # type: ignore[call-arg]
        assert await ask(url, source=FRONT_DOOR_HOP) == {"client": FRONT_DOOR_HOP, "scheme": "http"}
