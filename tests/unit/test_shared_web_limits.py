"""The request body limit at the ASGI level, around a fake app that reads the whole body."""

from __future__ import annotations

import json

import pytest
from starlette.types import Message, Receive, Scope, Send

from shared.web.limits import BodySizeLimit, BodyTooLarge, drain

LIMIT = 10


class EchoLength:
    """Reads the body to the end and answers 200 with its length; counts the chunks it read."""

    def __init__(self, *, swallow: bool = False) -> None:
        self.chunks_read = 0
        self.swallow = swallow  # like FastAPI: turn a failed read into an answer of its own

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        size = 0
        try:
            while True:
                message = await receive()
                self.chunks_read += 1
                size += len(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        except BodyTooLarge:
            if not self.swallow:
                raise
            await send({"type": "http.response.start", "status": 400, "headers": []})
            await send({"type": "http.response.body", "body": b"There was an error parsing the body"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})


class Exchange:
    """One request through the middleware: the body in chunks, the response messages collected."""

    def __init__(self, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> None:
        self.scope: Scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
        self._chunks = list(chunks)
        self.chunks_sent = 0
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if not self._chunks:
            return {"type": "http.disconnect"}
        self.chunks_sent += 1
        body = self._chunks.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(self._chunks)}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        assert len(starts) == 1, self.sent
        status: int = starts[0]["status"]
        return status

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


async def run(chunks: list[bytes], *, content_length: bytes | None = None, app: EchoLength | None = None) -> Exchange:
    headers = [(b"content-length", content_length)] if content_length is not None else []
    exchange = Exchange(chunks, headers)
    await BodySizeLimit(app or EchoLength(), max_bytes=LIMIT)(exchange.scope, exchange.receive, exchange.send)
    return exchange


async def test_a_body_within_the_limit_reaches_the_app() -> None:
    exchange = await run([b"12345", b"67890"], content_length=b"10")
    assert (exchange.status, exchange.body) == (200, b"10")


async def test_a_streamed_body_within_the_limit_reaches_the_app() -> None:
    exchange = await run([b"123", b"456", b""])
    assert (exchange.status, exchange.body) == (200, b"6")


async def test_a_declared_length_over_the_limit_is_refused_unread() -> None:
    app = EchoLength()
    exchange = Exchange([b"x" * 6, b"x" * 5], [(b"content-length", b"11")])
    order: list[str] = []
    receive, send = exchange.receive, exchange.send

    async def noted_receive() -> Message:
        order.append("read")
        return await receive()

    async def noted_send(message: Message) -> None:
        order.append(message["type"])
        await send(message)

    await BodySizeLimit(app, max_bytes=LIMIT)(exchange.scope, noted_receive, noted_send)
    assert exchange.status == 413
    assert "too large" in json.loads(exchange.body)["detail"]
    assert app.chunks_read == 0, "the app never sees it"
    assert order == ["http.response.start", "http.response.body", "read", "read"], "answered first, then drained"


async def test_a_streamed_body_is_cut_off_once_it_passes_the_limit_and_the_rest_is_drained() -> None:
    app = EchoLength()
    exchange = await run([b"123456", b"789012", b"never", b"read"], app=app)
    assert exchange.status == 413
    assert app.chunks_read == 1, "the app's read that passed the limit failed"
    assert exchange.chunks_sent == 4, "the rest is read and dropped (a lingering close)"


async def test_draining_stops_at_its_limit() -> None:
    exchange = Exchange([b"x" * 100] * 50, [])
    assert await drain(exchange.receive, limit=250) == 300
    assert exchange.chunks_sent == 3


async def test_a_body_longer_than_its_content_length_is_cut_off_too() -> None:
    exchange = await run([b"123456", b"789012"], content_length=b"5")
    assert exchange.status == 413


async def test_the_apps_own_answer_to_the_cut_off_read_is_replaced_by_413() -> None:
    exchange = await run([b"123456", b"789012"], app=EchoLength(swallow=True))
    assert exchange.status == 413


@pytest.mark.parametrize("value", [b"abc", b"-1", b"1.5", b"", b"1e3", "\u0663".encode(), b"10, 10"])
async def test_an_invalid_content_length_is_refused(value: bytes) -> None:
    exchange = await run([b"1"], content_length=value)
    assert exchange.status == 400


async def test_conflicting_content_length_headers_are_refused() -> None:
    exchange = Exchange([b"1"], [(b"content-length", b"1"), (b"Content-Length", b"2")])
    await BodySizeLimit(EchoLength(), max_bytes=LIMIT)(exchange.scope, exchange.receive, exchange.send)
    assert exchange.status == 400


async def test_a_huge_content_length_is_too_large_not_a_crash() -> None:
    exchange = await run([b"1"], content_length=b"9" * 5000)
    assert exchange.status == 413


async def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["type"])

    async def nothing() -> Message:
        return {"type": "lifespan.startup"}

    async def drop(message: Message) -> None:
        return None

    await BodySizeLimit(app, max_bytes=0)({"type": "lifespan"}, nothing, drop)
    assert seen == ["lifespan"]
