"""HTTP: the rater's journey and the self-assessment (server-rendered, one dimension per page,
a server-side draft saved on every page), and a counts-only cycle API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from ratings import pages, usecases
from ratings.config import Settings
from ratings.domain import token_sha256
from ratings.pages import Journey
from ratings.questionnaire import (
    COMMENTS_PAGE,
    FieldError,
    comment_problem,
    first_incomplete_page,
    merge_page,
    next_page,
    normalise_text,
    page_errors,
    parse_page,
    unstorable,
)
from ratings.usecases import Access, CycleSummary, RaterAccess
from shared.contracts.vocabulary import RaterGroup
from shared.questionnaire import ItemBank
from shared.service import ServiceRuntime, runtime_of
from shared.web import RateLimiter
from shared.web.admin import Admin

router = APIRouter()

MAX_TOKEN_LENGTH = 256
MAX_FORM_BYTES = 200_000
SELF = "/self-assessment"

HtmlOrRedirect = HTMLResponse | RedirectResponse


class CycleState(BaseModel):
    """Progress of a cycle: counts only, never anything about one rater or response."""

    cycle_id: UUID
    status: str
    deadline: datetime
    invited_per_group: dict[RaterGroup, int]
    responded_per_group: dict[RaterGroup, int]
    expected: int
    declined: int
    close_reason: str | None


class Limits:
    """Per-client limits: unknown links (guessing) and new self-assessments. Kept on app.state."""

    def __init__(self, settings: Settings) -> None:
        self.unknown_links = RateLimiter(
            limit=settings.unknown_link_limit, window_seconds=settings.unknown_link_window_seconds
        )
        self.self_assessment_starts = RateLimiter(
            limit=settings.self_assessment_start_limit, window_seconds=settings.self_assessment_start_window_seconds
        )


def item_bank_of(request: Request) -> ItemBank:
    bank: ItemBank = request.app.state.item_bank
    return bank


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def limits_of(request: Request) -> Limits:
    limits: Limits = request.app.state.limits
    return limits


Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]
Bank = Annotated[ItemBank, Depends(item_bank_of)]
Config = Annotated[Settings, Depends(settings_of)]
Limit = Annotated[Limits, Depends(limits_of)]


def now() -> datetime:
    return datetime.now(UTC)


def html(body: str, *, status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(body, status_code=status_code, headers={**pages.SECURITY_HEADERS, **(headers or {})})


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=pages.SECURITY_HEADERS)


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def unknown_link(request: Request, limits: Limits, message: pages.Message, **extra: str) -> HTMLResponse:
    """404 for a link we do not know; 429 once a client has tried too many (guessing links).

    Only unknown links count and only they are refused: staff of a whole trust may share one address,
    so one person's typos must not lock out everyone's valid links (tokens have 256 bits anyway)."""
    if not limits.unknown_links.allow(client_key(request)):
        return html(pages.message_page(pages.TOO_MANY_ATTEMPTS), status_code=429, headers={"Retry-After": "60"})
    return html(pages.message_page(message, start_again=extra.get("start_again")), status_code=404)


def refusal(request: Request, limits: Limits, access: RaterAccess, *, posted: bool) -> HTMLResponse:
    """The page for a link that cannot take answers now; a refused POST is a conflict."""
    conflict = 409 if posted else 200
    match access.access:
        case Access.UNKNOWN:
            return unknown_link(request, limits, pages.UNKNOWN_LINK)
        case Access.NOT_OPEN:
            return html(pages.message_page(pages.NOT_READY), status_code=503, headers={"Retry-After": "60"})
        case Access.WITHDRAWN:
            return html(pages.message_page(pages.WITHDRAWN), status_code=410)
        case Access.CLOSED:
            message = pages.CLOSED_AFTER_SUBMITTING if access.submitted else pages.CLOSED
            return html(pages.message_page(message), status_code=conflict)
        case Access.DECLINED:
            return html(pages.message_page(pages.DECLINED), status_code=conflict)
        case _:
            return html(pages.message_page(pages.ALREADY_SUBMITTED), status_code=conflict)


def valid_token(token: str) -> bool:
    return 0 < len(token) <= MAX_TOKEN_LENGTH


async def posted_form(request: Request) -> dict[str, str] | None:
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        return None
    form = await request.form()
    return {key: value for key, value in form.multi_items() if isinstance(value, str)}


def rater_journey(token: str, access: RaterAccess) -> Journey:
    return Journey(
        base=f"/r/{quote(token, safe='')}",
        group=access.group or RaterGroup.OTHER,
        participant_name=access.participant_name,
    )


def self_journey(token: str) -> Journey:
    return Journey(base=f"{SELF}/{quote(token, safe='')}", group=RaterGroup.SELF, self_assessment=True)


def question_page(
    bank: ItemBank,
    journey: Journey,
    *,
    page: int | str,
    values: dict[str, str],
    errors: tuple[FieldError, ...] = (),
    returning: bool,
) -> str:
    if page == COMMENTS_PAGE:
        return pages.comments_page(bank, journey, values=values, errors=errors, returning=returning)
    return pages.section_page(bank, journey, page=int(page), values=values, errors=errors, returning=returning)


def unsaved_page(
    bank: ItemBank, journey: Journey, *, page: int | str, answers: dict[str, str], posted: dict[str, str]
) -> HTMLResponse:
    """The page again with what was posted and its errors, without saving it (see `unstorable`)."""
    values = merge_page(bank, page, answers, posted)
    errors = page_errors(bank, page, values, self_rating=journey.self_rating)
    returning = posted.get("return") == "check"
    body = question_page(bank, journey, page=page, values=values, errors=errors, returning=returning)
    return html(body, status_code=400)


def after_page(bank: ItemBank, journey: Journey, page: int | str, *, returning: bool) -> str:
    following = None if returning else next_page(bank, page)
    return f"{journey.base}/check" if following is None else journey.page_href(following)


# --- the rater's journey -----------------------------------------------------------------------


async def access_of(runtime: ServiceRuntime, token: str) -> RaterAccess:
    if not valid_token(token):
        return RaterAccess(Access.UNKNOWN)
    async with runtime.uow() as uow:
        return await usecases.rater_access(uow, token_hash=token_sha256(token), now=now())


@router.get("/r/{token}", response_class=HTMLResponse)
async def rater_start(token: str, request: Request, runtime: Runtime, bank: Bank, limits: Limit) -> HTMLResponse:
    access = await access_of(runtime, token)
    if access.access is not Access.OPEN:
        return refusal(request, limits, access, posted=False)
    journey = rater_journey(token, access)
    resume = first_incomplete_page(bank, access.answers, self_rating=journey.self_rating)
    return html(pages.start_page(bank, journey, resume_page=resume, has_answers=bool(access.answers)))


@router.get("/r/{token}/done", response_class=HTMLResponse, response_model=None)
async def rater_done(token: str, request: Request, runtime: Runtime, limits: Limit) -> HtmlOrRedirect:
    access = await access_of(runtime, token)
    if access.access is Access.SUBMITTED:
        return html(pages.message_page(pages.DONE))
    if access.access is Access.OPEN:
        return redirect(f"/r/{quote(token, safe='')}")
    return refusal(request, limits, access, posted=False)


@router.get("/r/{token}/declined", response_class=HTMLResponse, response_model=None)
async def rater_declined(token: str, request: Request, runtime: Runtime, limits: Limit) -> HtmlOrRedirect:
    access = await access_of(runtime, token)
    if access.access is Access.OPEN:
        return redirect(f"/r/{quote(token, safe='')}")
    return refusal(request, limits, access, posted=False)


@router.get("/r/{token}/decline", response_class=HTMLResponse, response_model=None)
async def decline_form(token: str, request: Request, runtime: Runtime, limits: Limit) -> HtmlOrRedirect:
    access = await access_of(runtime, token)
    if access.access is not Access.OPEN:
        return refusal(request, limits, access, posted=False)
    if access.group is RaterGroup.SELF:
        return redirect(f"/r/{quote(token, safe='')}")
    return html(pages.decline_page(rater_journey(token, access), reason="", error=None))


@router.post("/r/{token}/decline", response_class=HTMLResponse, response_model=None)
async def decline(token: str, request: Request, runtime: Runtime, limits: Limit) -> HtmlOrRedirect:
    access = await access_of(runtime, token)
    if access.access is not Access.OPEN or access.group is RaterGroup.SELF:
        return refusal(request, limits, access, posted=True)
    form = await posted_form(request) or {}
    reason = normalise_text(form.get("reason", ""))
    if error := comment_problem(reason, subject="Your reason"):
        return html(pages.decline_page(rater_journey(token, access), reason=reason, error=error), status_code=400)
    async with runtime.uow() as uow:
        outcome = await usecases.decline(uow, token_hash=token_sha256(token), reason=reason or None, now=now())
        await uow.commit()
    if outcome.access is not Access.ACCEPTED:
        return refusal(request, limits, outcome, posted=True)
    return redirect(f"/r/{quote(token, safe='')}/declined")


@router.get("/r/{token}/check", response_class=HTMLResponse)
async def rater_check(token: str, request: Request, runtime: Runtime, bank: Bank, limits: Limit) -> HTMLResponse:
    access = await access_of(runtime, token)
    if access.access is not Access.OPEN:
        return refusal(request, limits, access, posted=False)
    return html(pages.check_page(bank, rater_journey(token, access), values=access.answers, errors=()))


@router.post("/r/{token}/check", response_class=HTMLResponse, response_model=None)
async def rater_submit(token: str, request: Request, runtime: Runtime, bank: Bank, limits: Limit) -> HtmlOrRedirect:
    if not valid_token(token):
        return refusal(request, limits, RaterAccess(Access.UNKNOWN), posted=True)
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
        return refusal(request, limits, outcome, posted=True)
    return redirect(f"/r/{quote(token, safe='')}/done")


@router.get("/r/{token}/{page_name}", response_class=HTMLResponse)
async def rater_page(
    token: str, page_name: str, request: Request, runtime: Runtime, bank: Bank, limits: Limit
) -> HTMLResponse:
    access = await access_of(runtime, token)
    if access.access is not Access.OPEN:
        return refusal(request, limits, access, posted=False)
    page = parse_page(bank, page_name)
    if page is None:
        return html(pages.message_page(pages.PAGE_NOT_FOUND), status_code=404)
    returning = request.query_params.get("return") == "check"
    body = question_page(bank, rater_journey(token, access), page=page, values=access.answers, returning=returning)
    return html(body)


@router.post("/r/{token}/{page_name}", response_class=HTMLResponse, response_model=None)
async def rater_save_page(
    token: str, page_name: str, request: Request, runtime: Runtime, bank: Bank, limits: Limit
) -> HtmlOrRedirect:
    page = parse_page(bank, page_name)
    if not valid_token(token):
        return refusal(request, limits, RaterAccess(Access.UNKNOWN), posted=True)
    if page is None:
        return html(pages.message_page(pages.PAGE_NOT_FOUND), status_code=404)
    posted = await posted_form(request)
    if posted is None:
        return html(pages.message_page(pages.TOO_LARGE), status_code=413)
    if unstorable(bank, page, posted):
        access = await access_of(runtime, token)
        if access.access is not Access.OPEN:
            return refusal(request, limits, access, posted=True)
        return unsaved_page(bank, rater_journey(token, access), page=page, answers=access.answers, posted=posted)
    async with runtime.uow() as uow:
        state = await usecases.save_rater_page(
            uow, token_hash=token_sha256(token), bank=bank, page=page, posted=posted, now=now()
        )
        await uow.commit()
    if state.access is not Access.OPEN:
        return refusal(request, limits, state, posted=True)
    journey = rater_journey(token, state)
    returning = posted.get("return") == "check"
    errors = page_errors(bank, page, state.answers, self_rating=journey.self_rating)
    if errors:
        body = question_page(bank, journey, page=page, values=state.answers, errors=errors, returning=returning)
        return html(body, status_code=400)
    return redirect(after_page(bank, journey, page, returning=returning))


# --- the free self-assessment ------------------------------------------------------------------


def self_unknown(request: Request, limits: Limit) -> HTMLResponse:
    return unknown_link(request, limits, pages.SELF_ASSESSMENT_UNKNOWN, start_again=SELF)


@router.get(SELF, response_class=HTMLResponse)
async def self_assessment_start(bank: Bank) -> HTMLResponse:
    return html(pages.self_assessment_start_page(bank))


@router.post(SELF, response_class=HTMLResponse, response_model=None)
async def self_assessment_begin(request: Request, runtime: Runtime, limits: Limit) -> HtmlOrRedirect:
    if not limits.self_assessment_starts.allow(client_key(request)):
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
    token: str, request: Request, runtime: Runtime, bank: Bank, limits: Limit
) -> HtmlOrRedirect:
    state = await self_state(runtime, token)
    if not state.found:
        return self_unknown(request, limits)
    journey = self_journey(token)
    resume = first_incomplete_page(bank, state.answers, self_rating=True)
    return redirect(f"{journey.base}/check" if resume is None else journey.page_href(resume))


@router.get(SELF + "/{token}/check", response_class=HTMLResponse)
async def self_assessment_check(
    token: str, request: Request, runtime: Runtime, bank: Bank, limits: Limit
) -> HTMLResponse:
    state = await self_state(runtime, token)
    if not state.found:
        return self_unknown(request, limits)
    return html(pages.check_page(bank, self_journey(token), values=state.answers, errors=()))


@router.post(SELF + "/{token}/check", response_class=HTMLResponse, response_model=None)
async def self_assessment_finish(
    token: str, request: Request, runtime: Runtime, bank: Bank, settings: Config, limits: Limit
) -> HtmlOrRedirect:
    if not valid_token(token):
        return self_unknown(request, limits)
    async with runtime.uow() as uow:
        outcome = await usecases.complete_self_assessment(uow, token_hash=token_sha256(token), bank=bank)
        await uow.commit()
    if not outcome.found:
        return self_unknown(request, limits)
    if outcome.assessment_id is None or outcome.access_token is None:
        page = pages.check_page(bank, self_journey(token), values=outcome.answers, errors=outcome.errors)
        return html(page, status_code=400)
    base = settings.reports_public_url.rstrip("/")
    return redirect(f"{base}/self-assessment/{outcome.assessment_id}/{outcome.access_token}")


@router.get(SELF + "/{token}/{page_name}", response_class=HTMLResponse)
async def self_assessment_page(
    token: str, page_name: str, request: Request, runtime: Runtime, bank: Bank, limits: Limit
) -> HTMLResponse:
    state = await self_state(runtime, token)
    if not state.found:
        return self_unknown(request, limits)
    page = parse_page(bank, page_name)
    if page is None:
        return html(pages.message_page(pages.PAGE_NOT_FOUND), status_code=404)
    returning = request.query_params.get("return") == "check"
    return html(question_page(bank, self_journey(token), page=page, values=state.answers, returning=returning))


@router.post(SELF + "/{token}/{page_name}", response_class=HTMLResponse, response_model=None)
async def self_assessment_save_page(
    token: str, page_name: str, request: Request, runtime: Runtime, bank: Bank, limits: Limit
) -> HtmlOrRedirect:
    page = parse_page(bank, page_name)
    if not valid_token(token):
        return self_unknown(request, limits)
    if page is None:
        return html(pages.message_page(pages.PAGE_NOT_FOUND), status_code=404)
    posted = await posted_form(request)
    if posted is None:
        return html(pages.message_page(pages.TOO_LARGE), status_code=413)
    if unstorable(bank, page, posted):
        found = await self_state(runtime, token)
        if not found.found:
            return self_unknown(request, limits)
        return unsaved_page(bank, self_journey(token), page=page, answers=found.answers, posted=posted)
    async with runtime.uow() as uow:
        state = await usecases.save_self_assessment_page(
            uow, token_hash=token_sha256(token), bank=bank, page=page, posted=posted, now=now()
        )
        await uow.commit()
    if not state.found:
        return self_unknown(request, limits)
    journey = self_journey(token)
    returning = posted.get("return") == "check"
    errors = page_errors(bank, page, state.answers, self_rating=True)
    if errors:
        body = question_page(bank, journey, page=page, values=state.answers, errors=errors, returning=returning)
        return html(body, status_code=400)
    return redirect(after_page(bank, journey, page, returning=returning))


# --- counts-only cycle API ---------------------------------------------------------------------


def cycle_state(summary: CycleSummary) -> CycleState:
    return CycleState(
        cycle_id=summary.cycle_id,
        status=summary.status.value,
        deadline=summary.deadline,
        invited_per_group=summary.invited_per_group,
        responded_per_group=summary.responded_per_group,
        expected=summary.expected,
        declined=summary.declined,
        close_reason=summary.close_reason.value if summary.close_reason else None,
    )


@router.get("/api/cycles/{cycle_id}")
async def get_cycle(cycle_id: UUID, _: Admin, runtime: Runtime) -> CycleState:
    async with runtime.uow() as uow:
        summary = await usecases.cycle_summary(uow, cycle_id=cycle_id)
    if summary is None:
        raise HTTPException(status_code=404, detail="no such cycle")
    return cycle_state(summary)


@router.post("/api/cycles/{cycle_id}/close")
async def close_cycle(cycle_id: UUID, _: Admin, runtime: Runtime) -> CycleState:
    async with runtime.uow() as uow:
        summary = await usecases.close_cycle_early(uow, cycle_id=cycle_id, now=now())
        if summary is None:
            raise HTTPException(status_code=404, detail="no such cycle")
        await uow.commit()
    return cycle_state(summary)
