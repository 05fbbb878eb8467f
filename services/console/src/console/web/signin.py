"""Signing in (a staff token checked as on the operators' API, then a session cookie) and out."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console import pages, session
from console.web.deps import Config, Operator
from shared.web import RateLimiter
from shared.web.admin import staff_subject

log = logging.getLogger(__name__)
router = APIRouter(prefix=pages.PREFIX)
tries = RateLimiter(limit=20, window_seconds=300)
MAX_TOKEN = 16 * 1024


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page() -> HTMLResponse:
    return pages.sign_in()


@router.post("/sign-in", response_class=HTMLResponse, response_model=None)
async def sign_in(request: Request, settings: Config) -> Response:
    if not tries.allow(request.client.host if request.client else "unknown"):
        return pages.sign_in(error="Too many attempts: wait a few minutes and try again", status_code=429)
    form = await request.form()
    token = str(form.get("token") or "").strip()
    if not token or len(token) > MAX_TOKEN:
        return pages.sign_in(error="Enter a valid access token", status_code=422)
    try:
        subject = await staff_subject(request, token)
    except HTTPException as refused:
        message = "This account has no operator role" if refused.status_code == 403 else "Enter a valid access token"
        return pages.sign_in(
            error=message, status_code=422 if refused.status_code in (401, 403) else refused.status_code
        )
    now = datetime.now(UTC)
    lifetime = timedelta(hours=settings.session_hours)
    cookie = session.issue(settings.session_keys(), subject, now=now, lifetime=lifetime)
    log.info("operator signed in to the console", extra={"operator": subject})
    answer = RedirectResponse(pages.HOME, status_code=303)
    answer.set_cookie(
        session.COOKIE,
        cookie,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=settings.on_https,
        path=pages.PREFIX,
    )
    return answer


@router.post("/sign-out", response_model=None)
async def sign_out(request: Request, operator: Operator, settings: Config) -> Response:
    form = await request.form()
    if not session.form_token_matches(settings.session_keys(), operator, str(form.get("form_token") or "")):
        raise HTTPException(status_code=403, detail="this form is not from the console")
    answer = RedirectResponse(pages.SIGN_IN, status_code=303)
    answer.delete_cookie(session.COOKIE, path=pages.PREFIX)
    return answer
