"""What the routes share: responses, the signed-out answer, form reading."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from observations import pages

MAX_TOKEN_LENGTH = 100
MAX_FORM_BYTES = 100_000

HtmlOrRedirect = HTMLResponse | RedirectResponse

SIGNED_OUT = pages.Message(
    "Sign in to see your journal",
    ("Your journal is private: sign in with a link we email you.",),
    (pages.SIGN_IN, "Sign in"),
)


def now() -> datetime:
    return datetime.now(UTC)


def html(body: str, *, status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(body, status_code=status_code, headers={**pages.SECURITY_HEADERS, **(headers or {})})


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=pages.SECURITY_HEADERS)


def signed_out() -> HTMLResponse:
    """Not signed in (no cookie, a forged or expired one, or the account is gone): 401 with a way in."""
    return html(pages.message_page(SIGNED_OUT), status_code=401)


def not_found() -> HTMLResponse:
    return html(pages.message_page(pages.NOT_FOUND), status_code=404)


def too_large() -> HTMLResponse:
    return html(pages.message_page(pages.TOO_LARGE), status_code=413)


def entry_id(value: str) -> UUID | None:
    try:
        parsed = UUID(value)
    except ValueError:
        return None
    return parsed if str(parsed) == value else None


async def posted_form(request: Request) -> tuple[dict[str, str], list[str]] | None:
    """The form's single values, and the ticked `dimensions` (a list); None when it is too large."""
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        return None
    form = await request.form()
    values = {key: value for key, value in form.multi_items() if isinstance(value, str) and key != "dimensions"}
    chosen = [value for value in form.getlist("dimensions") if isinstance(value, str)]
    return values, chosen
