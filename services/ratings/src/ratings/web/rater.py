"""HTTP: the rater's journey behind their personal link (`/r/{token}`): start, one dimension per
page, comments, check, send; decline. A server-side draft is saved on every page."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.exc import IntegrityError

from ratings import pages, usecases
from ratings.questionnaire import (
    comment_problem,
    first_incomplete_page,
    normalise_text,
    page_errors,
    parse_page,
    unstorable,
)
from ratings.usecases import Access, RaterAccess
from ratings.web.common import (
    HtmlOrRedirect,
    after_page,
    html,
    now,
    posted_form,
    question_page,
    rater_journey,
    redirect,
    refusal,
    unsaved_page,
    valid_token,
)
from ratings.web.deps import Bank, PerClient, Runtime
from shared.contracts.vocabulary import RaterGroup
from shared.links import token_sha256
from shared.service import ServiceRuntime

router = APIRouter()


async def access_of(runtime: ServiceRuntime, token: str) -> RaterAccess:
    if not valid_token(token):
        return RaterAccess(Access.UNKNOWN)
    async with runtime.uow() as uow:
        return await usecases.rater_access(uow, token_hash=token_sha256(token), now=now())


@router.get("/r/{token}", response_class=HTMLResponse)
async def rater_start(token: str, request: Request, runtime: Runtime, bank: Bank, limits: PerClient) -> HTMLResponse:
    access = await access_of(runtime, token)
    if access.access is not Access.OPEN:
        return await refusal(request, limits, access, posted=False)
    journey = rater_journey(token, access)
    resume = first_incomplete_page(bank, access.answers, self_rating=journey.self_rating)
    return html(pages.start_page(bank, journey, resume_page=resume, has_answers=bool(access.answers)))


@router.get("/r/{token}/done", response_class=HTMLResponse, response_model=None)
async def rater_done(token: str, request: Request, runtime: Runtime, limits: PerClient) -> HtmlOrRedirect:
    access = await access_of(runtime, token)
    if access.access is Access.SUBMITTED:
        return html(pages.message_page(pages.DONE))
    if access.access is Access.OPEN:
        return redirect(f"/r/{quote(token, safe='')}")
    return await refusal(request, limits, access, posted=False)


@router.get("/r/{token}/declined", response_class=HTMLResponse, response_model=None)
async def rater_declined(token: str, request: Request, runtime: Runtime, limits: PerClient) -> HtmlOrRedirect:
    access = await access_of(runtime, token)
    if access.access is Access.OPEN:
        return redirect(f"/r/{quote(token, safe='')}")
    return await refusal(request, limits, access, posted=False)


@router.get("/r/{token}/decline", response_class=HTMLResponse, response_model=None)
async def decline_form(token: str, request: Request, runtime: Runtime, limits: PerClient) -> HtmlOrRedirect:
    access = await access_of(runtime, token)
    if access.access is not Access.OPEN:
        return await refusal(request, limits, access, posted=False)
    if access.group is RaterGroup.SELF:
        return redirect(f"/r/{quote(token, safe='')}")
    return html(pages.decline_page(rater_journey(token, access), reason="", error=None))


@router.post("/r/{token}/decline", response_class=HTMLResponse, response_model=None)
async def decline(token: str, request: Request, runtime: Runtime, limits: PerClient) -> HtmlOrRedirect:
    access = await access_of(runtime, token)
    if access.access is not Access.OPEN or access.group is RaterGroup.SELF:
        return await refusal(request, limits, access, posted=True)
    form = await posted_form(request) or {}
    reason = normalise_text(form.get("reason", ""))
    if error := comment_problem(reason, subject="Your reason"):
        return html(pages.decline_page(rater_journey(token, access), reason=reason, error=error), status_code=400)
    async with runtime.uow() as uow:
        outcome = await usecases.decline(uow, token_hash=token_sha256(token), reason=reason or None, now=now())
        await uow.commit()
    if outcome.access is not Access.ACCEPTED:
        return await refusal(request, limits, outcome, posted=True)
    return redirect(f"/r/{quote(token, safe='')}/declined")


@router.get("/r/{token}/check", response_class=HTMLResponse)
async def rater_check(token: str, request: Request, runtime: Runtime, bank: Bank, limits: PerClient) -> HTMLResponse:
    access = await access_of(runtime, token)
    if access.access is not Access.OPEN:
        return await refusal(request, limits, access, posted=False)
    return html(pages.check_page(bank, rater_journey(token, access), values=access.answers, errors=()))


@router.post("/r/{token}/check", response_class=HTMLResponse, response_model=None)
async def rater_submit(token: str, request: Request, runtime: Runtime, bank: Bank, limits: PerClient) -> HtmlOrRedirect:
    if not valid_token(token):
        return await refusal(request, limits, RaterAccess(Access.UNKNOWN), posted=True)
    async with runtime.uow() as uow:
        try:
            outcome = await usecases.submit_response(uow, token_hash=token_sha256(token), bank=bank, now=now())
            await uow.commit()
        except IntegrityError:
            # The unique rater_id on responses caught a concurrent duplicate: the first one counted.
            outcome = RaterAccess(Access.SUBMITTED, submitted=True)
    if outcome.access is Access.INCOMPLETE:
        page = pages.check_page(bank, rater_journey(token, outcome), values=outcome.answers, errors=outcome.errors)
        return html(page, status_code=400)
    if outcome.access is not Access.ACCEPTED:
        return await refusal(request, limits, outcome, posted=True)
    return redirect(f"/r/{quote(token, safe='')}/done")


@router.get("/r/{token}/{page_name}", response_class=HTMLResponse)
async def rater_page(
    token: str, page_name: str, request: Request, runtime: Runtime, bank: Bank, limits: PerClient
) -> HTMLResponse:
    access = await access_of(runtime, token)
    if access.access is not Access.OPEN:
        return await refusal(request, limits, access, posted=False)
    page = parse_page(bank, page_name)
    if page is None:
        return html(pages.message_page(pages.PAGE_NOT_FOUND), status_code=404)
    returning = request.query_params.get("return") == "check"
    body = question_page(bank, rater_journey(token, access), page=page, values=access.answers, returning=returning)
    return html(body)


@router.post("/r/{token}/{page_name}", response_class=HTMLResponse, response_model=None)
async def rater_save_page(
    token: str, page_name: str, request: Request, runtime: Runtime, bank: Bank, limits: PerClient
) -> HtmlOrRedirect:
    page = parse_page(bank, page_name)
    if not valid_token(token):
        return await refusal(request, limits, RaterAccess(Access.UNKNOWN), posted=True)
    if page is None:
        return html(pages.message_page(pages.PAGE_NOT_FOUND), status_code=404)
    posted = await posted_form(request)
    if posted is None:
        return html(pages.message_page(pages.TOO_LARGE), status_code=413)
    if unstorable(bank, page, posted):
        access = await access_of(runtime, token)
        if access.access is not Access.OPEN:
            return await refusal(request, limits, access, posted=True)
        return unsaved_page(bank, rater_journey(token, access), page=page, answers=access.answers, posted=posted)
    async with runtime.uow() as uow:
        state = await usecases.save_rater_page(
            uow, token_hash=token_sha256(token), bank=bank, page=page, posted=posted, now=now()
        )
        await uow.commit()
    if state.access is not Access.OPEN:
        return await refusal(request, limits, state, posted=True)
    journey = rater_journey(token, state)
    returning = posted.get("return") == "check"
    errors = page_errors(bank, page, state.answers, self_rating=journey.self_rating)
    if errors:
        body = question_page(bank, journey, page=page, values=state.answers, errors=errors, returning=returning)
        return html(body, status_code=400)
    return redirect(after_page(bank, journey, page, returning=returning))
