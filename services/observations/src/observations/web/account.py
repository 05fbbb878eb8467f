"""HTTP: the start page, asking for a one-time link, using it (sign in, or create the account) and
signing out. Opening a link only shows a button: a mail scanner that fetches it uses nothing."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from observations import domain, forms, links, pages, usecases
from observations.domain import LinkState
from observations.web.common import (
    MAX_TOKEN_LENGTH,
    HtmlOrRedirect,
    html,
    now,
    posted_form,
    redirect,
    too_large,
)
from observations.web.deps import Config, PerClient, Runtime, SignedIn
from shared.links import token_sha256
from shared.web import client_address

router = APIRouter()


@router.get(pages.PREFIX, response_class=HTMLResponse, response_model=None)
async def start(account_id: SignedIn) -> HtmlOrRedirect:
    if account_id is not None:
        return redirect(pages.ENTRIES)
    return html(pages.start_page())


@router.get(pages.SIGN_IN, response_class=HTMLResponse)
async def sign_in_form() -> HTMLResponse:
    return html(pages.sign_in_page())


@router.post(pages.SIGN_IN, response_class=HTMLResponse)
async def ask_for_link(request: Request, runtime: Runtime, settings: Config, limits: PerClient) -> HTMLResponse:
    if not await limits.client_may_ask(client_address(request)):
        return html(pages.message_page(pages.TOO_MANY_REQUESTS), status_code=429, headers={"Retry-After": "3600"})
    posted = await posted_form(request)
    if posted is None:
        return too_large()
    given = posted[0].get("email", "")
    problem = forms.email_problem(given)
    if problem is not None:
        errors = (domain.FieldError("email", problem),)
        return html(pages.sign_in_page(email=given[: domain.MAX_EMAIL], errors=errors), status_code=400)
    email = domain.normalise_email(given)
    # Beyond the mailbox's limit nothing is sent and the answer is the same, so nobody learns anything.
    if await limits.mailbox_may_receive(email):
        async with runtime.uow() as uow:
            await usecases.request_sign_in(
                uow, email=email, keys=settings.signing_keys(), now=now(), minutes=settings.sign_in_link_minutes
            )
            await uow.commit()
    return html(pages.check_email_page(settings.sign_in_link_minutes))


async def _refused(request: Request, limits: PerClient, state: LinkState | None) -> HTMLResponse:
    """The page for a link that cannot be used: unknown (404, 429 once a client guesses too many),
    used or expired (410)."""
    if state is None:
        if not await limits.may_try_unknown_link(client_address(request)):
            return html(pages.message_page(pages.TOO_MANY_LINKS), status_code=429, headers={"Retry-After": "60"})
        return html(pages.message_page(pages.LINK_UNKNOWN), status_code=404)
    message = pages.LINK_USED if state is LinkState.USED else pages.LINK_EXPIRED
    return html(pages.message_page(message), status_code=410)


@router.get(pages.SIGN_IN + "/{token}", response_class=HTMLResponse)
async def open_link(token: str, request: Request, runtime: Runtime, limits: PerClient) -> HTMLResponse:
    if len(token) > MAX_TOKEN_LENGTH:
        return await _refused(request, limits, None)
    async with runtime.uow() as uow:
        found = await usecases.check_link(uow, token_hash=token_sha256(token), now=now())
    if found.state is not LinkState.USABLE:
        return await _refused(request, limits, found.state)
    return html(pages.link_page(new_account=found.new_account))


@router.post(pages.SIGN_IN + "/{token}", response_class=HTMLResponse, response_model=None)
async def use_link(
    token: str, request: Request, runtime: Runtime, settings: Config, limits: PerClient
) -> HtmlOrRedirect:
    if len(token) > MAX_TOKEN_LENGTH:
        return await _refused(request, limits, None)
    posted = await posted_form(request)
    if posted is None:
        return too_large()
    form = posted[0]
    async with runtime.uow() as uow:
        used = await usecases.use_link(
            uow, token_hash=token_sha256(token), profile=forms.parse_profile(form), now=now()
        )
        await uow.commit()
    if used.errors:
        return html(pages.link_page(new_account=True, values=form, errors=used.errors), status_code=400)
    if used.account_id is None:
        return await _refused(request, limits, used.state)
    lifetime = timedelta(hours=settings.session_hours)
    cookie = links.issue(settings.signing_keys(), used.account_id, now=now(), lifetime=lifetime)
    answer = redirect(pages.ENTRIES)
    answer.set_cookie(
        links.COOKIE,
        cookie,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=settings.on_https,
        path=pages.PREFIX,
    )
    return answer


@router.post(pages.SIGN_OUT, response_class=HTMLResponse, response_model=None)
async def sign_out() -> HtmlOrRedirect:
    answer = redirect(pages.PREFIX)
    answer.delete_cookie(links.COOKIE, path=pages.PREFIX, httponly=True, samesite="strict")
    return answer
