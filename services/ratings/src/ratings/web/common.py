"""What the rater's and the self-assessment's routes share: responses, refusals, form reading,
and which question page comes next."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ratings import pages
from ratings.pages import Journey
from ratings.questionnaire import (
    COMMENTS_PAGE,
    FieldError,
    merge_page,
    next_page,
    page_errors,
)
from ratings.usecases import Access, RaterAccess
from ratings.web.deps import Limits
from shared.contracts.vocabulary import RaterGroup
from shared.questionnaire import ItemBank
from shared.web import client_address

MAX_TOKEN_LENGTH = 256
MAX_FORM_BYTES = 200_000
SELF = "/self-assessment"

HtmlOrRedirect = HTMLResponse | RedirectResponse


def now() -> datetime:
    return datetime.now(UTC)


def html(body: str, *, status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(body, status_code=status_code, headers={**pages.SECURITY_HEADERS, **(headers or {})})


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=pages.SECURITY_HEADERS)


async def unknown_link(request: Request, limits: Limits, message: pages.Message, **extra: str) -> HTMLResponse:
    """404 for a link we do not know; 429 once a client has tried too many (guessing links).

    Only unknown links count and only they are refused: staff of a whole trust may share one address,
    so one person's typos must not lock out everyone's valid links (tokens have 256 bits anyway)."""
    if not await limits.may_try_unknown_link(client_address(request)):
        return html(pages.message_page(pages.TOO_MANY_ATTEMPTS), status_code=429, headers={"Retry-After": "60"})
    return html(pages.message_page(message, start_again=extra.get("start_again")), status_code=404)


async def refusal(request: Request, limits: Limits, access: RaterAccess, *, posted: bool) -> HTMLResponse:
    """The page for a link that cannot take answers now; a refused POST is a conflict."""
    conflict = 409 if posted else 200
    match access.access:
        case Access.UNKNOWN:
            return await unknown_link(request, limits, pages.UNKNOWN_LINK)
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
