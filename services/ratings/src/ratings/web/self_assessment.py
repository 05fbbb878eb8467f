"""HTTP: the free self-assessment (`/self-assessment`): the same pages in the first person under a
fresh token; finishing hands over to the reports service's private page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from ratings import pages, usecases
from ratings.questionnaire import (
    first_incomplete_page,
    page_errors,
    parse_page,
    unstorable,
)
from ratings.web.common import (
    SELF,
    HtmlOrRedirect,
    after_page,
    html,
    now,
    posted_form,
    question_page,
    redirect,
    self_journey,
    unknown_link,
    unsaved_page,
    valid_token,
)
from ratings.web.deps import Bank, Config, PerClient, Runtime
from shared.links import token_sha256
from shared.service import ServiceRuntime
from shared.web import client_address

router = APIRouter()


async def self_unknown(request: Request, limits: PerClient) -> HTMLResponse:
    return await unknown_link(request, limits, pages.SELF_ASSESSMENT_UNKNOWN, start_again=SELF)


@router.get(SELF, response_class=HTMLResponse)
async def self_assessment_start(bank: Bank) -> HTMLResponse:
    return html(pages.self_assessment_start_page(bank))


@router.post(SELF, response_class=HTMLResponse, response_model=None)
async def self_assessment_begin(request: Request, runtime: Runtime, limits: PerClient) -> HtmlOrRedirect:
    if not await limits.may_start_self_assessment(client_address(request)):
        return html(pages.message_page(pages.TOO_MANY_STARTS), status_code=429, headers={"Retry-After": "600"})
    async with runtime.uow() as uow:
        token = await usecases.start_self_assessment(uow, now=now())
        await uow.commit()
    return redirect(f"{SELF}/{token}/1")


async def self_state(runtime: ServiceRuntime, token: str) -> usecases.SelfAssessment:
    if not valid_token(token):
        return usecases.SelfAssessment(found=False)
    async with runtime.uow() as uow:
        return await usecases.self_assessment(uow, token_hash=token_sha256(token))


@router.get(SELF + "/{token}", response_class=HTMLResponse, response_model=None)
async def self_assessment_resume(
    token: str, request: Request, runtime: Runtime, bank: Bank, limits: PerClient
) -> HtmlOrRedirect:
    state = await self_state(runtime, token)
    if not state.found:
        return await self_unknown(request, limits)
    journey = self_journey(token)
    resume = first_incomplete_page(bank, state.answers, self_rating=True)
    return redirect(f"{journey.base}/check" if resume is None else journey.page_href(resume))


@router.get(SELF + "/{token}/check", response_class=HTMLResponse)
async def self_assessment_check(
    token: str, request: Request, runtime: Runtime, bank: Bank, limits: PerClient
) -> HTMLResponse:
    state = await self_state(runtime, token)
    if not state.found:
        return await self_unknown(request, limits)
    return html(pages.check_page(bank, self_journey(token), values=state.answers, errors=()))


@router.post(SELF + "/{token}/check", response_class=HTMLResponse, response_model=None)
async def self_assessment_finish(
    token: str, request: Request, runtime: Runtime, bank: Bank, settings: Config, limits: PerClient
) -> HtmlOrRedirect:
    if not valid_token(token):
        return await self_unknown(request, limits)
    async with runtime.uow() as uow:
        outcome = await usecases.complete_self_assessment(uow, token_hash=token_sha256(token), bank=bank)
        await uow.commit()
    if not outcome.found:
        return await self_unknown(request, limits)
    if outcome.assessment_id is None or outcome.access_token is None:
        page = pages.check_page(bank, self_journey(token), values=outcome.answers, errors=outcome.errors)
        return html(page, status_code=400)
    base = settings.reports_public_url.rstrip("/")
    return redirect(f"{base}/report/self-assessment/{outcome.assessment_id}/{outcome.access_token}")


@router.get(SELF + "/{token}/{page_name}", response_class=HTMLResponse)
async def self_assessment_page(
    token: str, page_name: str, request: Request, runtime: Runtime, bank: Bank, limits: PerClient
) -> HTMLResponse:
    state = await self_state(runtime, token)
    if not state.found:
        return await self_unknown(request, limits)
    page = parse_page(bank, page_name)
    if page is None:
        return html(pages.message_page(pages.PAGE_NOT_FOUND), status_code=404)
    returning = request.query_params.get("return") == "check"
    return html(question_page(bank, self_journey(token), page=page, values=state.answers, returning=returning))


@router.post(SELF + "/{token}/{page_name}", response_class=HTMLResponse, response_model=None)
async def self_assessment_save_page(
    token: str, page_name: str, request: Request, runtime: Runtime, bank: Bank, limits: PerClient
) -> HtmlOrRedirect:
    page = parse_page(bank, page_name)
    if not valid_token(token):
        return await self_unknown(request, limits)
    if page is None:
        return html(pages.message_page(pages.PAGE_NOT_FOUND), status_code=404)
    posted = await posted_form(request)
    if posted is None:
        return html(pages.message_page(pages.TOO_LARGE), status_code=413)
    if unstorable(bank, page, posted):
        found = await self_state(runtime, token)
        if not found.found:
            return await self_unknown(request, limits)
        return unsaved_page(bank, self_journey(token), page=page, answers=found.answers, posted=posted)
    async with runtime.uow() as uow:
        state = await usecases.save_self_assessment_page(
            uow, token_hash=token_sha256(token), bank=bank, page=page, posted=posted, now=now()
        )
        await uow.commit()
    if not state.found:
        return await self_unknown(request, limits)
    journey = self_journey(token)
    returning = posted.get("return") == "check"
    errors = page_errors(bank, page, state.answers, self_rating=True)
    if errors:
        body = question_page(bank, journey, page=page, values=state.answers, errors=errors, returning=returning)
        return html(body, status_code=400)
    return redirect(after_page(bank, journey, page, returning=returning))
