"""HTTP: the JSON API for requesting a 360 (same use case as the Kafka intake), and the pages:
starting a 360, the participant's private view (progress, deadline, closing early, replacing
raters), and the line manager's approval of the nomination list."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Annotated, Any
from uuid import UUID, uuid4, uuid5

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from invitations import emails, usecases
from invitations.config import Settings
from invitations.domain import (
    COHORT_NAMESPACE,
    DEFAULT_LANGUAGE,
    FUNDING_REFERENCE_NAMES,
    SESSION_LANGUAGES,
    Nominee,
    deadline_problem,
    email_is_valid,
    funding_problem,
    nomination_problems,
    normalise_email,
    quote,
    token_matches,
)
from invitations.tables import Cycle, Rater
from shared.contracts.events import (
    PERSON_NAME_MAX,
    CycleRequested,
    Funding,
    Participant,
    RaterNomination,
)
from shared.contracts.text import SHORT_TEXT_MAX, SingleLine, single_line_problem
from shared.contracts.vocabulary import FundingMethod, RaterGroup
from shared.db import UnitOfWork
from shared.errors import Rejected
from shared.service import ServiceRuntime, runtime_of
from shared.web import RateLimiter, page_templates
from shared.web.admin import Admin

log = logging.getLogger(__name__)
router = APIRouter()
pages = page_templates("invitations")
limiter = RateLimiter(limit=120, window_seconds=60)

REGIONS = ("East of England", "London", "Midlands", "North East and Yorkshire", "North West", "South East",
           "South West")
ROWS = {RaterGroup.PEER: ("peer", "Peer", 6), RaterGroup.DIRECT_REPORT: ("report", "Direct report", 6),
        RaterGroup.OTHER: ("other", "Other colleague", 4)}
CLOSES_AT = time(17, 0)
FUNDING_LABELS = {
    FundingMethod.SELF_FUNDED: "I am paying myself",
    FundingMethod.PURCHASE_ORDER: "My organisation is paying with a purchase order",
    FundingMethod.PROGRAMME_CREDIT: "My programme has pre-paid credits",
}


def _blank_is_none(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


class CycleRequest(BaseModel):
    """Body of POST /api/cycles: a CycleRequested without the envelope, with the same field types,
    so FastAPI refuses bad input with a 422 before the handler runs."""

    cycle_id: UUID = Field(default_factory=uuid4)
    participant: Participant
    programme: Annotated[SingleLine | None, BeforeValidator(_blank_is_none)] = Field(
        default=None,
        description="Programme requiring the 360, if any. Empty or blank means none, as on the start page.",
        examples=["Mary Seacole Programme"],
    )
    facilitator_id: UUID | None = None
    deadline: AwareDatetime
    funding: Funding
    raters: list[RaterNomination] = Field(min_length=1, max_length=50)


class CycleAccepted(BaseModel):
    cycle_id: UUID
    created: bool


class CycleProgress(BaseModel):
    cycle_id: UUID
    status: str
    invited_per_group: dict[str, int]


class FacilitatorChoice(BaseModel):
    id: UUID
    name: str | None
    region: str | None
    free_slots: int | None
    next_free_slot_at: datetime | None


Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Config = Annotated[Settings, Depends(settings_of)]


@asynccontextmanager
async def reading(runtime: ServiceRuntime) -> AsyncIterator[UnitOfWork]:
    """A read-only unit of work whose rows stay usable after it ends (pages render from them)."""
    async with runtime.uow() as uow:
        yield uow
        uow.session.expunge_all()


# --- JSON API ---------------------------------------------------------------------------------


def unprocessable(error: ValidationError, *, within: tuple[str, ...] = ("body",)) -> HTTPException:
    """A 422 shaped like FastAPI's own, naming each field but never echoing what was sent."""
    detail = [
        {"type": item["type"], "loc": [*within, *item["loc"]], "msg": item["msg"]}
        for item in error.errors(include_url=False, include_context=False, include_input=False)
    ]
    return HTTPException(status_code=422, detail=detail)


def _fields(error: ValidationError) -> list[str]:
    return [".".join(str(part) for part in item["loc"]) for item in error.errors(include_input=False)]


@router.post("/api/cycles", status_code=202)
async def request_cycle(body: CycleRequest, runtime: Runtime, settings: Config) -> CycleAccepted:
    try:
        # the body was validated with the contract's types already; this guard keeps any rule the
        # event adds later from becoming a 500
        event = CycleRequested(producer="invitations-api", **body.model_dump())
    except ValidationError as error:
        raise unprocessable(error) from error
    created = await _open(runtime, event, settings=settings)
    return CycleAccepted(cycle_id=event.cycle_id, created=created)


async def _open(
    runtime: ServiceRuntime, event: CycleRequested, *, settings: Settings, has_direct_reports: bool | None = None
) -> bool:
    try:
        async with runtime.uow() as uow:
            created = await usecases.open_cycle(uow, event, settings=settings, has_direct_reports=has_direct_reports)
            await uow.commit()
    except Rejected as rejection:
        raise HTTPException(status_code=422, detail=str(rejection)) from rejection
    except ValidationError as error:
        # an event derived from the request broke the contract: the request's fault, not a 500
        log.warning("cycle request failed contract validation", extra={"fields": _fields(error)})
        raise unprocessable(error, within=()) from error
    except IntegrityError:
        # the same request arrived twice at once: the other one opened it
        return False
    return created


@router.get("/api/cycles/{cycle_id}")
async def cycle_progress(cycle_id: UUID, _: Admin, runtime: Runtime) -> CycleProgress:
    async with runtime.uow() as uow:
        cycle = await uow.session.get(Cycle, cycle_id)
        if cycle is None:
            raise HTTPException(status_code=404, detail="no such cycle")
        rows = await uow.session.execute(
            select(col(Rater.group), func.count())
            .where(col(Rater.cycle_id) == cycle_id, col(Rater.status) != "replaced")
            .group_by(col(Rater.group))
        )
        return CycleProgress(cycle_id=cycle_id, status=cycle.status, invited_per_group=dict(rows.tuples().all()))


@router.get("/api/facilitators")
async def facilitators(runtime: Runtime) -> list[FacilitatorChoice]:
    """Facilitators a participant may choose now (from scheduling's events)."""
    async with reading(runtime) as uow:
        rows = await usecases.choosable_facilitators(uow)
    return [FacilitatorChoice(id=f.id, name=f.name, region=f.region, free_slots=f.free_slots,
                              next_free_slot_at=f.next_free_slot_at) for f in rows]


# --- pages: starting a 360 --------------------------------------------------------------------


@dataclass
class StartForm:
    values: dict[str, str]
    errors: list[tuple[str, str]] = field(default_factory=list)

    def error_for(self, field_id: str) -> str | None:
        return next((message for fid, message in self.errors if fid == field_id), None)

    def add(self, field_id: str, message: str) -> None:
        if self.error_for(field_id) is None:
            self.errors.append((field_id, message))


def render(name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("errors", [])
    errors: list[tuple[str, str]] = context["errors"]
    context["error_for"] = lambda field_id: next((m for f, m in errors if f == field_id), None)
    context.setdefault("service_name", "HLM 360 feedback")
    return HTMLResponse(pages.get_template(name).render(**context), status_code=status_code)


@router.get("/", response_class=HTMLResponse)
@router.get("/start", response_class=HTMLResponse)
async def start_page(runtime: Runtime, settings: Config) -> HTMLResponse:
    return await _start_page(
        runtime, settings, StartForm(values={"cycle_id": str(uuid4()), "preferred_language": DEFAULT_LANGUAGE})
    )


async def _start_page(runtime: ServiceRuntime, settings: Settings, form: StartForm) -> HTMLResponse:
    async with reading(runtime) as uow:
        choices = await usecases.choosable_facilitators(uow)
    price = quote(net=settings.price_net, vat_rate=settings.vat_rate)
    return render(
        "pages/start.html",
        status_code=422 if form.errors else 200,
        page_title="Start your 360",
        form=form,
        errors=form.errors,
        v=form.values,
        rows=ROWS,
        regions=REGIONS,
        languages=list(SESSION_LANGUAGES.items()),
        facilitators=[
            (str(f.id), _facilitator_label(f.name, f.region, f.free_slots, f.next_free_slot_at)) for f in choices
        ],
        funding_options=[(m.value, label) for m, label in FUNDING_LABELS.items()],
        price=price,
        settings=settings,
    )


def _facilitator_label(
    name: str | None, region: str | None, free_slots: int | None, next_free: datetime | None
) -> str:
    label = f"{name or 'Facilitator'} ({region or 'region not given'})"
    if free_slots == 0:
        label += ", no free sessions at the moment"
    elif next_free is not None:
        label += f", next free session {emails.when(next_free)}"
    return label


@router.post("/start", response_class=HTMLResponse, response_model=None)
async def start_submit(request: Request, runtime: Runtime, settings: Config) -> HTMLResponse | RedirectResponse:
    raw = await request.form()
    values = {key: str(value).strip() for key, value in raw.items() if isinstance(value, str)}
    form = StartForm(values=values)
    event, has_reports = await _read_start_form(runtime, form, settings=settings)
    if event is None:
        return await _start_page(runtime, settings, form)
    try:
        await _open(runtime, event, settings=settings, has_direct_reports=has_reports)
    except HTTPException as refused:
        if not isinstance(refused.detail, str):
            form.add("given-name", CHECK_ANSWERS)
            return await _start_page(runtime, settings, form)
        message = refused.detail
        target = ("funding-reference" if "credit" in message else "facilitator-1" if "facilitator" in message
                  else "given-name")
        form.add(target, message[0].upper() + message[1:])
        return await _start_page(runtime, settings, form)
    return RedirectResponse(f"/started/{event.cycle_id}", status_code=303)


async def _read_start_form(
    runtime: ServiceRuntime, form: StartForm, *, settings: Settings
) -> tuple[CycleRequested | None, bool | None]:
    v = form.values
    for key, field_id, label, missing, limit in START_TEXT_FIELDS:
        if not v.get(key):
            if missing:
                form.add(field_id, missing)
        elif problem := single_line_problem(v[key], max_length=limit):
            form.add(field_id, f"{label} {problem}")
    if not email_is_valid(v.get("email", "")):
        form.add("email", "Enter your email address, like name@example.nhs.uk")
    if v.get("region") not in REGIONS:
        form.add("region", "Select your NHS region")
    deadline = _read_date(form, prefix="deadline", legend="the date feedback closes")
    if deadline is not None and (problem := deadline_problem(deadline=deadline, now=datetime.now(UTC),
                                   min_hours=settings.min_deadline_hours, max_days=settings.max_deadline_days)):
        form.add("deadline-day", problem[0].upper() + problem[1:])
    has_reports = {"yes": True, "no": False}.get(v.get("has_reports", ""))
    if has_reports is None:
        form.add("has-reports-1", "Select yes if anyone reports to you")

    nominees: list[Nominee] = []
    field_ids: list[str] = []
    labels: list[str] = []

    def row(group: RaterGroup, prefix: str, label: str, required: bool = False) -> None:
        name, address = v.get(f"{prefix}_name", ""), v.get(f"{prefix}_email", "")
        if name or address or required:
            nominees.append(Nominee(group=group, name=name, email=address))
            field_ids.append(prefix.replace("_", "-"))
            labels.append(label)

    row(RaterGroup.LINE_MANAGER, "lm", "Your line manager", required=True)
    for group, (prefix, label, count) in ROWS.items():
        for number in range(1, count + 1):
            row(group, f"{prefix}_{number}", f"{label} {number}")

    def label_of(match: re.Match[str]) -> str:
        return labels[int(match.group(1)) - 1]

    for issue in nomination_problems(
        participant_email=v.get("email", "") if email_is_valid(v.get("email", "")) else "",
        nominees=nominees,
        limits=usecases.limits_of(settings),
        has_direct_reports=has_reports,
    ):
        message = re.sub(r"rater (\d+)", label_of, issue.message)
        message = message[0].upper() + message[1:]
        if issue.index is not None:
            form.add(f"{field_ids[issue.index]}-{issue.part if issue.part != 'group' else 'name'}", message)
        elif "line manager" in message:
            form.add("lm-name", message)
        elif "direct report" in message:
            form.add("report-1-name" if has_reports else "has-reports-1", message)
        else:
            form.add("peer-1-name", message)

    language = v.get("preferred_language", "")
    if language and language not in SESSION_LANGUAGES:
        form.add("preferred-language", "Select the language for your feedback session from the list")
    senior = v.get("lm_manager_email", "")
    if senior:
        if not email_is_valid(senior):
            form.add("lm-manager-email", "Enter your line manager's manager's work email address, like "
                                         "name@example.nhs.uk, or leave it empty")
        elif normalise_email(senior) == normalise_email(v.get("email", "")):
            form.add("lm-manager-email", "Enter your line manager's manager's email address, not your own")
        elif normalise_email(senior) == normalise_email(v.get("lm_email", "")):
            form.add("lm-manager-email", "This is your line manager's email address: enter their manager's, "
                                         "or leave it empty")

    method = next((m for m in FundingMethod if m.value == v.get("funding_method")), None)
    if method is None:
        form.add("funding-method-1", "Select how your 360 is paid for")
    elif problem_text := funding_problem(method=method, reference=v.get("funding_reference", "")):
        form.add("funding-reference", problem_text[0].upper() + problem_text[1:])
    facilitator_id: UUID | None = None
    if chosen := v.get("facilitator"):
        try:
            facilitator_id = UUID(chosen)
        except ValueError:
            form.add("facilitator-1", "Select a facilitator from the list, or choose later")
    try:
        cycle_id = UUID(v.get("cycle_id", ""))
    except ValueError:
        cycle_id = uuid4()
        v["cycle_id"] = str(cycle_id)
    if form.errors or deadline is None or method is None:
        return None, has_reports
    address = v["email"]
    try:
        event = CycleRequested(
            producer="invitations-web",
            cycle_id=cycle_id,
            participant=Participant(
                participant_id=v.get("participant_id") or f"self-{uuid5(COHORT_NAMESPACE, address.lower()).hex[:16]}",
                given_name=v["given_name"],
                family_name=v["family_name"],
                email=address,
                organisation=v["organisation"],
                region=v["region"],
                management_line=[senior] if senior else [],
                preferred_language=language or None,
            ),
            programme=v.get("programme") or None,
            facilitator_id=facilitator_id,
            deadline=deadline,
            funding=Funding(method=method, reference=v["funding_reference"]),
            raters=[RaterNomination(group=n.group, name=n.name, email=n.email) for n in nominees],  # type: ignore[arg-type]
        )
    except ValidationError as error:
        # the checks above should have caught it: name the field, never the value
        log.info("start form failed contract validation", extra={"fields": _fields(error)})
        for item in error.errors(include_input=False):
            form.add(_start_field_id(item["loc"], field_ids), CHECK_ANSWER)
        return None, has_reports
    return event, has_reports


CHECK_ANSWERS = "Some details could not be accepted; check every answer and try again"
CHECK_ANSWER = "This answer could not be accepted; check it and try again"
# (form key, field id, label, message when empty (None: optional), maximum length)
START_TEXT_FIELDS = (
    ("given_name", "given-name", "First name", "Enter your first name", PERSON_NAME_MAX),
    ("family_name", "family-name", "Last name", "Enter your last name", PERSON_NAME_MAX),
    ("participant_id", "participant-id", "Staff or ESR number", None, SHORT_TEXT_MAX),
    ("organisation", "organisation", "Organisation", "Enter the organisation you work for", SHORT_TEXT_MAX),
    ("programme", "programme", "Leadership programme", None, SHORT_TEXT_MAX),
)
_PARTICIPANT_FIELD_IDS = {"given_name": "given-name", "family_name": "family-name", "email": "email",
                          "participant_id": "participant-id", "organisation": "organisation", "region": "region",
                          "management_line": "lm-manager-email", "preferred_language": "preferred-language"}


def _start_field_id(loc: tuple[int | str, ...], rater_field_ids: list[str]) -> str:
    """The start page's field for a place in CycleRequested (the error summary links to it)."""
    match loc:
        case ("participant", str(name), *_) if name in _PARTICIPANT_FIELD_IDS:
            return _PARTICIPANT_FIELD_IDS[name]
        case ("programme", *_):
            return "programme"
        case ("funding", *_):
            return "funding-reference"
        case ("raters", int(index), part, *_) if index < len(rater_field_ids):
            return f"{rater_field_ids[index]}-{'email' if part == 'email' else 'name'}"
    return "given-name"


def _read_date(form: StartForm, *, prefix: str, legend: str) -> datetime | None:
    parts = [form.values.get(f"{prefix}_{p}", "") for p in ("day", "month", "year")]
    if not any(parts):
        form.add(f"{prefix}-day", f"Enter {legend}")
        return None
    try:  # OverflowError: a year such as 99999999999999999999 is an int but no date
        day, month, year = (int(p) for p in parts)
        return datetime.combine(date(year, month, day), CLOSES_AT, tzinfo=emails.LONDON).astimezone(UTC)
    except (ValueError, OverflowError):
        form.add(f"{prefix}-day", f"Enter {legend} as a real date, for example 27 3 2027")
        return None


@router.get("/started/{cycle_id}", response_class=HTMLResponse)
async def started(cycle_id: UUID, runtime: Runtime) -> HTMLResponse:
    async with reading(runtime) as uow:
        cycle = await uow.session.get(Cycle, cycle_id)
    if cycle is None:
        return render("pages/message.html", status_code=404, page_title="Page not found",
                      heading="Page not found", body="We could not find that 360.")
    return render("pages/started.html", page_title="Your 360 has started", awaiting=cycle.status == "awaiting_approval")


# --- pages: the participant's private view ----------------------------------------------------


def _allowed(request: Request) -> bool:
    return limiter.allow(request.client.host if request.client else "unknown")


def _bad_link(status_code: int = 404) -> HTMLResponse:
    return render("pages/message.html", status_code=status_code, page_title="This link does not work",
                  heading="This link does not work",
                  body="Check that you copied the whole link from your email. If it still does not work, "
                       "contact the person who asked you to take part.")


def _token_ok(settings: Settings, *, purpose: str, cycle_id: UUID, token: str) -> bool:
    secret = settings.link_secret.get_secret_value().encode()
    return token_matches(secret=secret, purpose=purpose, subject=cycle_id, token=token)


async def _dashboard(
    runtime: ServiceRuntime, settings: Settings, cycle_id: UUID, token: str, *,
    errors: list[tuple[str, str]] | None = None, values: dict[str, str] | None = None, notice: str | None = None,
) -> HTMLResponse:
    async with reading(runtime) as uow:
        try:
            view = await usecases.participant_view(uow, cycle_id, settings=settings)
        except Rejected:
            return _bad_link()
        self_rater = (await uow.session.execute(
            select(Rater).where(col(Rater.cycle_id) == cycle_id, col(Rater.group) == RaterGroup.SELF.value)
        )).scalar_one()
    local_deadline = view.cycle.deadline.astimezone(emails.LONDON)
    values = values or {"deadline_day": str(local_deadline.day), "deadline_month": str(local_deadline.month),
                        "deadline_year": str(local_deadline.year)}
    return render(
        "pages/dashboard.html",
        status_code=422 if errors else 200,
        page_title="Your 360",
        errors=errors or [],
        view=view,
        v=values,
        base=f"/p/{cycle_id}/{token}",
        deadline=emails.when(view.cycle.deadline),
        self_link=emails.rater_link(settings, self_rater) if not view.self_done else "",
        titles=emails.GROUP_TITLES,
        funding_name=FUNDING_REFERENCE_NAMES[FundingMethod(view.cycle.funding_method)],
        notice=notice,
        settings=settings,
    )


@router.get("/p/{cycle_id}/{token}", response_class=HTMLResponse)
async def dashboard(cycle_id: UUID, token: str, request: Request, runtime: Runtime, settings: Config) -> HTMLResponse:
    if not _allowed(request):
        return _bad_link(429)
    if not _token_ok(settings, purpose="participant", cycle_id=cycle_id, token=token):
        return _bad_link()
    notices = {"replaced": "We have invited the person you nominated.", "extended": "The deadline has been changed.",
               "closing": "Your 360 is closing. We will email you when it has closed."}
    notice = notices.get(request.query_params.get("done", ""))
    return await _dashboard(runtime, settings, cycle_id, token, notice=notice)


@router.post("/p/{cycle_id}/{token}/deadline", response_class=HTMLResponse, response_model=None)
async def change_deadline(
    cycle_id: UUID, token: str, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse | RedirectResponse:
    if not _token_ok(settings, purpose="participant", cycle_id=cycle_id, token=token):
        return _bad_link()
    raw = await request.form()
    values = {k: str(v).strip() for k, v in raw.items() if isinstance(v, str)}
    form = StartForm(values=values)
    deadline = _read_date(form, prefix="deadline", legend="the new closing date")
    if deadline is not None:
        try:
            async with runtime.uow() as uow:
                await usecases.extend_deadline(uow, cycle_id, deadline=deadline, settings=settings)
                await uow.commit()
        except Rejected as rejection:
            message = str(rejection)
            form.add("deadline-day", message[0].upper() + message[1:])
    if form.errors:
        return await _dashboard(runtime, settings, cycle_id, token, errors=form.errors, values=values)
    return RedirectResponse(f"/p/{cycle_id}/{token}?done=extended", status_code=303)


@router.get("/p/{cycle_id}/{token}/close", response_class=HTMLResponse)
async def close_confirm(cycle_id: UUID, token: str, settings: Config) -> HTMLResponse:
    if not _token_ok(settings, purpose="participant", cycle_id=cycle_id, token=token):
        return _bad_link()
    return render("pages/close.html", page_title="Close your 360 now?", base=f"/p/{cycle_id}/{token}")


@router.post("/p/{cycle_id}/{token}/close", response_class=HTMLResponse, response_model=None)
async def close_now(
    cycle_id: UUID, token: str, runtime: Runtime, settings: Config
) -> HTMLResponse | RedirectResponse:
    if not _token_ok(settings, purpose="participant", cycle_id=cycle_id, token=token):
        return _bad_link()
    try:
        async with runtime.uow() as uow:
            await usecases.request_close(uow, cycle_id)
            await uow.commit()
    except Rejected as rejection:
        return await _dashboard(runtime, settings, cycle_id, token, errors=[("close", str(rejection).capitalize())])
    return RedirectResponse(f"/p/{cycle_id}/{token}?done=closing", status_code=303)


async def _replace_page(
    runtime: ServiceRuntime, cycle_id: UUID, token: str, rater_id: UUID, *,
    values: dict[str, str], errors: list[tuple[str, str]],
) -> HTMLResponse:
    async with reading(runtime) as uow:
        rater = await uow.session.get(Rater, rater_id)
    if rater is None or rater.cycle_id != cycle_id or rater.status not in ("declined", "bounced"):
        return render("pages/message.html", status_code=404, page_title="No replacement needed",
                      heading="No replacement needed", body="This person does not need replacing.")
    return render(
        "pages/replace.html",
        status_code=422 if errors else 200,
        page_title="Nominate someone else",
        errors=errors,
        v=values,
        rater=rater,
        group_title=emails.GROUP_TITLES[RaterGroup(rater.group)].lower(),
        base=f"/p/{cycle_id}/{token}",
    )


@router.get("/p/{cycle_id}/{token}/replace/{rater_id}", response_class=HTMLResponse)
async def replace_form(cycle_id: UUID, token: str, rater_id: UUID, runtime: Runtime, settings: Config) -> HTMLResponse:
    if not _token_ok(settings, purpose="participant", cycle_id=cycle_id, token=token):
        return _bad_link()
    return await _replace_page(runtime, cycle_id, token, rater_id, values={}, errors=[])


@router.post("/p/{cycle_id}/{token}/replace/{rater_id}", response_class=HTMLResponse, response_model=None)
async def replace_submit(
    cycle_id: UUID, token: str, rater_id: UUID, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse | RedirectResponse:
    if not _token_ok(settings, purpose="participant", cycle_id=cycle_id, token=token):
        return _bad_link()
    raw = await request.form()
    values = {k: str(v).strip() for k, v in raw.items() if isinstance(v, str)}
    name, address = values.get("name", ""), values.get("email", "")
    errors = usecases.replacement_problems(name=name, email=address)
    if name and not any(field_id == "name" for field_id, _ in errors) and (problem := single_line_problem(name)):
        errors.insert(0, ("name", f"Their name {problem}"))
    if not errors:
        try:
            async with runtime.uow() as uow:
                await usecases.replace_rater(uow, cycle_id=cycle_id, old_rater_id=rater_id, name=name,
                                             email=address, settings=settings)
                await uow.commit()
        except Rejected as rejection:
            errors = [("email", str(rejection).capitalize())]
    if errors:
        return await _replace_page(runtime, cycle_id, token, rater_id, values=values, errors=errors)
    return RedirectResponse(f"/p/{cycle_id}/{token}?done=replaced", status_code=303)


# --- pages: the line manager approves the list ------------------------------------------------


@router.get("/approve/{cycle_id}/{token}", response_class=HTMLResponse)
async def approval_page(
    cycle_id: UUID, token: str, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse:
    if not _allowed(request):
        return _bad_link(429)
    if not _token_ok(settings, purpose="approval", cycle_id=cycle_id, token=token):
        return _bad_link()
    return await _approval(runtime, cycle_id, errors=[])


async def _approval(runtime: ServiceRuntime, cycle_id: UUID, *, errors: list[tuple[str, str]]) -> HTMLResponse:
    async with reading(runtime) as uow:
        cycle = await uow.session.get(Cycle, cycle_id)
        raters = (await uow.session.execute(select(Rater).where(col(Rater.cycle_id) == cycle_id))).scalars().all()
    if cycle is None:
        return _bad_link()
    groups = [(emails.GROUP_TITLES[g], [r for r in raters if r.group == g.value])
              for g in (RaterGroup.LINE_MANAGER, RaterGroup.PEER, RaterGroup.DIRECT_REPORT, RaterGroup.OTHER)]
    return render("pages/approve.html", status_code=422 if errors else 200, page_title="Approve the feedback list",
                  errors=errors, cycle=cycle, groups=[(t, rs) for t, rs in groups if rs],
                  decided=cycle.status != "awaiting_approval")


@router.post("/approve/{cycle_id}/{token}", response_class=HTMLResponse)
async def approval_submit(
    cycle_id: UUID, token: str, request: Request, runtime: Runtime, settings: Config
) -> HTMLResponse:
    if not _token_ok(settings, purpose="approval", cycle_id=cycle_id, token=token):
        return _bad_link()
    decision = str((await request.form()).get("decision", ""))
    if decision not in ("approve", "reject"):
        return await _approval(runtime, cycle_id, errors=[("decision-1", "Select whether you approve the list")])
    try:
        async with runtime.uow() as uow:
            await usecases.decide_approval(uow, cycle_id, approve=decision == "approve", settings=settings)
            await uow.commit()
    except Rejected:
        return await _approval(runtime, cycle_id, errors=[])
    body = ("Thank you. Everyone on the list is being invited, including you."
            if decision == "approve" else "Thank you. Nobody will be invited; we have told the participant.")
    return render("pages/message.html", page_title="Decision saved", heading="Decision saved", body=body)
