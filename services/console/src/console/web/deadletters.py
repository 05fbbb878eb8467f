"""Dead letters in the console: a filtered list (ids, consumer, topic, kind, age, reason), one dead
letter's headers and payload, and replaying or discarding one or the listed set after a confirmation
page. Every decision is audited by the library (ADR 19) with the signed-in operator's tag."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from console import pages, session
from console.deadletters import ActionFailed, DeadLetters
from console.domain import BadInput, DeadLetter, Filter, decisions, parse_age, parse_ref, select
from console.web.deps import Config, Letters, Operator

router = APIRouter(prefix=pages.PREFIX)
FILTERS = ("consumer", "topic", "kind", "reason", "older_than", "newer_than")


def _filter(values: dict[str, str]) -> Filter:
    """The filter typed on the page (BadInput names what is wrong)."""
    given = {name: values.get(name, "").strip()[:200] or None for name in FILTERS}
    older, newer = given.pop("older_than"), given.pop("newer_than")
    return Filter(
        **given,  # type: ignore[arg-type]
        older_than=parse_age(older) if older else None,
        newer_than=parse_age(newer) if newer else None,
    )


async def _chosen(library: DeadLetters, values: dict[str, str], *, everything: bool) -> list[DeadLetter]:
    letters, handled = await library.read(), decisions(await library.audit())
    ids = [text for text in values.get("ids", "").split() if text][:1000]
    if ids:
        refs = {str(parse_ref(text, default_topic=library.topic)) for text in ids}
        return [letter for letter in letters if str(letter.ref) in refs]
    return select(letters, _filter(values), handled=handled, include_handled=everything, now=datetime.now(UTC))


@router.get("/dead-letters", response_class=HTMLResponse)
async def listing(request: Request, operator: Operator, settings: Config, library: Letters) -> HTMLResponse:
    values = {name: request.query_params.get(name, "") for name in FILTERS}
    everything = request.query_params.get("all") == "yes"
    token = session.form_token(settings.session_keys(), operator)
    try:
        chosen = _filter(values)
    except BadInput as bad:
        return pages.dead_letters(
            values=values, everything=everything, letters=[], handled={}, form_token=token, error=str(bad)
        )
    letters, handled = await library.read(), decisions(await library.audit())
    found = select(letters, chosen, handled=handled, include_handled=everything, now=datetime.now(UTC))
    return pages.dead_letters(values=values, everything=everything, letters=found, handled=handled, form_token=token)


@router.get("/dead-letters/{ref}", response_class=HTMLResponse)
async def detail(ref: str, operator: Operator, settings: Config, library: Letters) -> HTMLResponse:
    try:
        letter = await library.read_one(parse_ref(ref, default_topic=library.topic))
    except BadInput:
        letter = None
    if letter is None:
        raise HTTPException(status_code=404, detail="no such dead letter")
    handled = decisions(await library.audit()).get(str(letter.ref))
    token = session.form_token(settings.session_keys(), operator)
    return pages.dead_letter(letter, handled=handled, form_token=token)


@router.post("/dead-letters/act", response_class=HTMLResponse)
async def act(request: Request, operator: Operator, settings: Config, library: Letters) -> HTMLResponse:
    form = {key: str(value) for key, value in (await request.form()).items()}
    if not session.form_token_matches(settings.session_keys(), operator, form.get("form_token", "")):
        raise HTTPException(status_code=403, detail="this form is not from the console")
    action = form.get("action")
    if action not in ("replay", "discard"):
        raise HTTPException(status_code=422, detail="replay or discard")
    try:
        letters = await _chosen(library, form, everything=form.get("all") == "yes")
    except BadInput as bad:
        raise HTTPException(status_code=422, detail=str(bad)) from None
    if action == "replay":
        letters = [letter for letter in letters if not letter.replay_problem()]
    if form.get("confirm") != "yes":
        return pages.confirm_action(action, letters, form=form)
    try:
        done = await (library.replay if action == "replay" else library.discard)(letters, by=operator)
    except ActionFailed as failed:
        return pages.action_done(action, done=failed.done, failed=type(failed.__cause__).__name__)
    return pages.action_done(action, done=done)
