"""HTTP: the signed-in journal. The list with its filter, recording an observation (or keeping it
as a draft), one observation, editing and deleting it. Another account's entry is not found (404)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from observations import forms, pages, usecases
from observations.domain import Status
from observations.web.common import (
    HtmlOrRedirect,
    entry_id,
    html,
    not_found,
    now,
    posted_form,
    redirect,
    signed_out,
    too_large,
)
from observations.web.deps import Bank, Runtime, SignedIn

router = APIRouter()
ENTRY = pages.ENTRIES + "/{entry}"


@router.get(pages.ENTRIES, response_class=HTMLResponse)
async def journal(request: Request, account_id: SignedIn, runtime: Runtime, bank: Bank) -> HTMLResponse:
    if account_id is None:
        return signed_out()
    query = {key: value[:100] for key, value in request.query_params.items()}
    only, errors = forms.parse_filter(query)
    async with runtime.uow() as uow:
        found = await usecases.journal(uow, account_id=account_id, only=only)
    if found is None:
        return signed_out()
    account, entries = found
    page = pages.journal_page(bank, account=account, journal=entries, only=only, query=query, errors=errors)
    return html(page, status_code=400 if errors else 200)


@router.get(pages.ENTRIES + "/new", response_class=HTMLResponse)
async def new_entry(account_id: SignedIn, bank: Bank) -> HTMLResponse:
    if account_id is None:
        return signed_out()
    action = pages.ENTRIES + "/new"
    return html(pages.entry_form_page(bank, action=action, values={}, chosen=(), editing=False, draft=True))


async def _save(
    request: Request, account_id: SignedIn, runtime: Runtime, bank: Bank, *, entry: str | None
) -> HtmlOrRedirect:
    """Save a posted form as a new entry (`entry` None) or over one: record it, or keep a draft."""
    observation_id = entry_id(entry) if entry is not None else None
    if account_id is None:
        return signed_out()
    if entry is not None and observation_id is None:
        return not_found()
    posted = await posted_form(request)
    if posted is None:
        return too_large()
    form, chosen = posted
    keep_draft = form.get("action") == "draft"
    parsed = forms.parse_entry(form, chosen, today=now().date())
    async with runtime.uow() as uow:
        saved = await usecases.save_observation(
            uow, account_id=account_id, observation_id=observation_id, parsed=parsed, draft=keep_draft, now=now()
        )
        await uow.commit()
    if not saved.found:
        return not_found()
    if saved.status is None:
        action = pages.ENTRIES + (f"/{entry}/edit" if entry else "/new")
        page = pages.entry_form_page(
            bank,
            action=action,
            values=form,
            chosen=chosen,
            errors=saved.errors,
            editing=entry is not None,
            draft=saved.may_keep_draft,
        )
        return html(page, status_code=400)
    return redirect(f"{pages.ENTRIES}/{saved.id}?saved=1")


@router.post(pages.ENTRIES + "/new", response_class=HTMLResponse, response_model=None)
async def record_entry(request: Request, account_id: SignedIn, runtime: Runtime, bank: Bank) -> HtmlOrRedirect:
    return await _save(request, account_id, runtime, bank, entry=None)


async def _summary(account_id: SignedIn, runtime: Runtime, entry: str) -> usecases.Summary | HTMLResponse:
    """The signed-in account's entry, or the page that says why there is none."""
    if account_id is None:
        return signed_out()
    observation_id = entry_id(entry)
    if observation_id is None:
        return not_found()
    async with runtime.uow() as uow:
        found = await usecases.observation(uow, account_id=account_id, observation_id=observation_id)
    return found if found is not None else not_found()


@router.get(ENTRY, response_class=HTMLResponse)
async def show_entry(entry: str, request: Request, account_id: SignedIn, runtime: Runtime, bank: Bank) -> HTMLResponse:
    found = await _summary(account_id, runtime, entry)
    if isinstance(found, HTMLResponse):
        return found
    return html(pages.entry_page(bank, found, saved=request.query_params.get("saved") == "1"))


@router.get(ENTRY + "/edit", response_class=HTMLResponse)
async def edit_entry(entry: str, account_id: SignedIn, runtime: Runtime, bank: Bank) -> HTMLResponse:
    found = await _summary(account_id, runtime, entry)
    if isinstance(found, HTMLResponse):
        return found
    values = forms.form_values(found.entry)
    chosen = [shown.dimension.value for shown in found.entry.shown]
    action = f"{pages.ENTRIES}/{found.id}/edit"
    draft = found.status is Status.DRAFT
    return html(pages.entry_form_page(bank, action=action, values=values, chosen=chosen, editing=True, draft=draft))


@router.post(ENTRY + "/edit", response_class=HTMLResponse, response_model=None)
async def save_entry(
    entry: str, request: Request, account_id: SignedIn, runtime: Runtime, bank: Bank
) -> HtmlOrRedirect:
    return await _save(request, account_id, runtime, bank, entry=entry)


@router.get(ENTRY + "/delete", response_class=HTMLResponse)
async def confirm_delete(entry: str, account_id: SignedIn, runtime: Runtime, bank: Bank) -> HTMLResponse:
    found = await _summary(account_id, runtime, entry)
    if isinstance(found, HTMLResponse):
        return found
    return html(pages.delete_page(bank, found))


@router.post(ENTRY + "/delete", response_class=HTMLResponse, response_model=None)
async def delete_entry(
    entry: str, request: Request, account_id: SignedIn, runtime: Runtime, bank: Bank
) -> HtmlOrRedirect:
    observation_id = entry_id(entry)
    if account_id is None:
        return signed_out()
    if observation_id is None:
        return not_found()
    posted = await posted_form(request)
    if posted is None or posted[0].get("confirm") != "yes":
        # Only the confirmation page's own button deletes; anything else asks again.
        found = await _summary(account_id, runtime, entry)
        return found if isinstance(found, HTMLResponse) else html(pages.delete_page(bank, found), status_code=400)
    async with runtime.uow() as uow:
        deleted = await usecases.delete_observation(uow, account_id=account_id, observation_id=observation_id)
        await uow.commit()
    return redirect(pages.ENTRIES) if deleted else not_found()
