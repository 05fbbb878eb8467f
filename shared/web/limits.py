"""A size limit on HTTP request bodies, before any route parses them: a declared Content-Length
over the limit is refused unread (413), a streamed (chunked) body is refused once the bytes read so
far pass it (413), and a Content-Length that is not one whole number is refused (400).

After a 413 the rest of the body is read and dropped, up to DRAIN_BYTES or DRAIN_SECONDS (a lingering
close, as nginx does): a server that closes with unread bytes resets the connection, and the client,
still sending, may lose the 413 it was given.

Pure ASGI rather than BaseHTTPMiddleware: it has to see and cut the body stream itself."""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_HUGE = 10**18
DRAIN_BYTES = 16 * 1024 * 1024
DRAIN_SECONDS = 5.0


class BodyTooLarge(Exception):
    """Raised into the app from `receive` once the body passes the limit, so it stops reading."""


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            declared = declared_length(scope)
        except ValueError:
            await _refuse(send, 400, "invalid Content-Length header")
            return
        if declared is not None and declared > self.max_bytes:
            await _refuse(send, 413, f"request body too large (at most {self.max_bytes} bytes)")
            await drain(receive)
            return

        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            # The app may turn BodyTooLarge into a response of its own (FastAPI answers 400 to a body
            # it failed to read): that response is replaced by the 413.
            if exceeded and not started:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            pass
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _refuse(send, 413, f"request body too large (at most {self.max_bytes} bytes)")
        if exceeded:
            await drain(receive)


async def drain(receive: Receive, *, limit: int = DRAIN_BYTES, seconds: float = DRAIN_SECONDS) -> int:
    """Read and drop what is left of a refused body, up to `limit` bytes or `seconds`; how much."""
    dropped = 0
    try:
        async with asyncio.timeout(seconds):
            while dropped <= limit:
                message = await receive()
                if message["type"] != "http.request":
                    break
                dropped += len(message.get("body", b""))
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        pass
    return dropped


def declared_length(scope: Scope) -> int | None:
    """The body length the Content-Length header declares, None without one; ValueError if it is
    not a whole number of ASCII digits, or several Content-Length headers disagree."""
    values = {value.strip() for name, value in scope.get("headers", []) if name.lower() == b"content-length"}
    if not values:
        return None
    if len(values) > 1:
        raise ValueError("conflicting Content-Length headers")
    (value,) = values
    # bytes.isdigit() is ASCII-only, unlike str.isdigit().
    if not value.isdigit():
        raise ValueError("Content-Length is not a number")
    # Longer than any real body; int() of a very long digit string is slow, or refused.
    return int(value) if len(value) <= 18 else _HUGE


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
