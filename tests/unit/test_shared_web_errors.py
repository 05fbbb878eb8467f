"""JSON error answers render whatever the request held (NaN, Infinity, lone surrogates) and never
echo the values sent."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict

from shared.web.errors import install_error_handlers


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int


def client() -> httpx.AsyncClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things")
    async def things(body: Body) -> dict[str, int]:
        return {"count": body.count}

    @app.get("/missing")
    async def missing() -> None:
        raise HTTPException(status_code=404, detail="nicht gefunden \u00e9 \ud800")

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize(
    "body",
    [b'["\\ud800"]', b'{"count": NaN}', b"[Infinity]", b'{"count": 1, "\\udc00": 2}', b'{"count": "\\ud800"}'],
)
async def test_a_422_renders_any_json_body_without_echoing_it(body: bytes) -> None:
    response = await client().post("/things", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.content.isascii()
    for error in response.json()["detail"]:
        assert set(error) == {"type", "loc", "msg"}


async def test_an_http_exception_detail_is_escaped_not_a_500() -> None:
    response = await client().get("/missing")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("nicht gefunden \u00e9")


async def test_a_valid_body_still_reaches_the_route() -> None:
    response = await client().post("/things", json={"count": 3})
    assert response.json() == {"count": 3}
