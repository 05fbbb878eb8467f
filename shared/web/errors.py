"""JSON error answers that cannot fail to render. FastAPI's own 422 echoes each invalid value back,
and a JSON body may hold values no JSON response can carry (NaN, Infinity, a lone surrogate such as
"\\ud800"): rendering the 422 raised, and the client got a 500. These answers name the field and the
problem, never the value, and escape anything outside ASCII."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.utils import is_body_allowed_for_status_code
from starlette.exceptions import HTTPException


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: a lone surrogate (from a JSON body's keys, named
    in an error's `loc`) cannot be encoded as UTF-8, but can be escaped."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
    """422 shaped like FastAPI's, without the `input` and `ctx` that may hold what was sent."""
    detail = [
        {"type": error.get("type"), "loc": list(error.get("loc", ())), "msg": error.get("msg")}
        for error in exc.errors()
    ]
    return AsciiJSONResponse({"detail": detail}, status_code=422)


async def http_error(request: Request, exc: HTTPException) -> Response:
    """FastAPI's HTTPException answer, rendered as ASCII JSON."""
    if not is_body_allowed_for_status_code(exc.status_code):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return AsciiJSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    app.exception_handler(RequestValidationError)(invalid_request)
    app.exception_handler(HTTPException)(http_error)
