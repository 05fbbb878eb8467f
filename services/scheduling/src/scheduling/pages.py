"""Server-rendered NHS.UK pages, each reached by a personal signed link (HMAC, see domain.link_signature):

- `/book/{cycle_id}/{signature}`: the participant chooses (or cancels) their feedback session time;
- `/facilitator/{facilitator_id}/{signature}`: sessions, availability, call-outs, CPD, interest form;
- `/lead/{lead_id}/{signature}`: a regional lead's register, call-outs, CPD events, unbooked sessions.

Every form re-displays what was typed with an error summary linking to the fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import exists, func, or_, select
from sqlmodel import col

from scheduling import domain, forms, registry, usecases
from scheduling.config import Settings
from scheduling.domain import LinkPurpose, SessionStatus
from scheduling.tables import (
    BookingRequest,
    Callout,
    CalloutVolunteer,
    CpdEvent,
    CpdInterest,
    CpdRegistration,
    Facilitator,
    FeedbackSession,
    Participant,
    RegionalLead,
)
from shared.db import UnitOfWork
from shared.errors import Rejected
from shared.service import ServiceRuntime, runtime_of
from shared.web import page_templates

router = APIRouter(include_in_schema=False)
_templates = page_templates("scheduling")
SERVICE_NAME = "HLM 360 feedback sessions"
MAX_SIGNATURE = 100
HEADERS = {"X-Robots-Tag": "noindex, nofollow"}
MONTH_OPTIONS = [(month, month) for month in forms.MONTHS]
DONE_MESSAGES = {
    "confirmed": "Session confirmed. You and the participant have been sent the calendar invitation.",
    "declined": "Request declined. The participant has been asked to choose another time.",
    "cancelled": "Session cancelled. A cancellation has been sent to you both.",
    "completed": "Session marked as completed. The participant can now read their report.",
    "no_show": "Session marked as a no-show.",
    "rescheduled": "Session moved. The updated calendar invitation has been sent to you both.",
    "published": "Your available times have been added.",
    "removed": "The time has been removed.",
    "volunteered": "Thank you for volunteering. The regional lead can see your offer.",
    "registered": "You are registered for the CPD event.",
    "interest": "Thank you. Your expression of interest has been sent to your regional lead.",
    "status": "The facilitator's status has been changed.",
    "accredited": "The accreditation has been recorded.",
    "facilitator": "The facilitator has been added to the register.",
    "callout": "The call-out has been published to facilitators in your region.",
    "cpd": "The CPD event has been published to facilitators in your region.",
    "attendance": "Attendance has been recorded.",
    "new_link": "A new personal link has been emailed to the facilitator. Their previous link no longer works.",
}

Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Config = Annotated[Settings, Depends(settings_of)]


def render(
    template: str, *, settings: Settings, status_code: int = 200, home: str = "", **context: Any
) -> HTMLResponse:
    tz = ZoneInfo(settings.timezone)
    body = _templates.get_template(template).render(
        service_name=SERVICE_NAME,
        home_href=home or "#maincontent",
        errors=context.pop("errors", []),
        when=lambda start, end: usecases.format_when(start, end, tz=tz),
        day=lambda d: f"{d:%A} {d.day} {d:%B %Y}",
        local=lambda t: t.astimezone(tz),
        language_name=domain.language_name,
        language_list=lambda codes: ", ".join(domain.language_name(code) for code in codes),
        mode_phrase=lambda mode: forms.CALLOUT_MODES.get(mode, mode),
        **context,
    )
    return HTMLResponse(body, status_code=status_code, headers=HEADERS)


def message(settings: Settings, title: str, *paragraphs: str, status_code: int = 200) -> HTMLResponse:
    return render("message.html", settings=settings, status_code=status_code, page_title=title, paragraphs=paragraphs)


def not_recognised(settings: Settings) -> HTMLResponse:
    return message(settings, "Link not recognised",
                   "We do not recognise this link. Check that you used the whole link from your email.",
                   status_code=404)


def signed(settings: Settings, purpose: LinkPurpose, subject_id: UUID, signature: str, version: int = 1) -> bool:
    return len(signature) <= MAX_SIGNATURE and domain.link_is_valid(
        secret=settings.link_secret.get_secret_value().encode(), purpose=purpose, subject_id=subject_id,
        signature=signature, version=version,
    )


# --- personal links: verified once, before any handler runs ---------------------------------------


class LinkNotRecognised(Exception):
    """A personal link whose signature does not verify, or whose facilitator or lead does not exist."""


async def link_not_recognised(request: Request, _: Exception) -> HTMLResponse:
    """Exception handler (installed by main.create_app): the same 404 page for every page kind."""
    return not_recognised(settings_of(request))


@dataclass(frozen=True)
class SignedLink:
    """A verified personal link: whose it is (cycle, facilitator or lead id) and the page it opens."""

    id: UUID
    base: str


def _verified(
    settings: Settings, purpose: LinkPurpose, subject_id: UUID, signature: str, version: int = 1
) -> SignedLink:
    if not signed(settings, purpose, subject_id, signature, version):
        raise LinkNotRecognised
    prefix = {LinkPurpose.BOOKING: "book", LinkPurpose.FACILITATOR: "facilitator", LinkPurpose.LEAD: "lead"}[purpose]
    return SignedLink(id=subject_id, base=f"/{prefix}/{subject_id}/{signature}")


async def booking_link(cycle_id: UUID, signature: str, settings: Config) -> SignedLink:
    return _verified(settings, LinkPurpose.BOOKING, cycle_id, signature)


async def _link_version(
    runtime: ServiceRuntime, table: type[Facilitator] | type[RegionalLead], subject_id: UUID
) -> int:
    """The subject's current link version (a renewed link's older versions no longer verify)."""
    async with runtime.uow() as uow:
        version = (await uow.session.execute(
            select(col(table.link_version)).where(col(table.id) == subject_id))).scalar_one_or_none()
    if version is None:
        raise LinkNotRecognised
    return int(version)


async def facilitator_link(facilitator_id: UUID, signature: str, settings: Config, runtime: Runtime) -> SignedLink:
    if len(signature) > MAX_SIGNATURE:
        raise LinkNotRecognised
    version = await _link_version(runtime, Facilitator, facilitator_id)
    return _verified(settings, LinkPurpose.FACILITATOR, facilitator_id, signature, version)


async def lead_link(lead_id: UUID, signature: str, settings: Config, runtime: Runtime) -> SignedLink:
    if len(signature) > MAX_SIGNATURE:
        raise LinkNotRecognised
    version = await _link_version(runtime, RegionalLead, lead_id)
    return _verified(settings, LinkPurpose.LEAD, lead_id, signature, version)


BookingLink = Annotated[SignedLink, Depends(booking_link)]
FacilitatorLink = Annotated[SignedLink, Depends(facilitator_link)]
LeadLink = Annotated[SignedLink, Depends(lead_link)]


def redirect(path: str, *, done: str | None = None) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={done}" if done else path, status_code=303, headers=HEADERS)


async def form_values(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    form = await request.form()
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            single.setdefault(key, value)
            multi.setdefault(key, []).append(value)
    return single, multi


async def reset(uow: UnitOfWork, *loaded: object) -> None:
    """Undo a refused change, then reload what the page still shows (no lazy loads in async code)."""
    await uow.session.rollback()
    for instance in loaded:
        await uow.session.refresh(instance)


def now() -> datetime:
    return datetime.now(UTC)


def today(settings: Settings) -> date:
    return now().astimezone(ZoneInfo(settings.timezone)).date()


# --- participant: choosing the session time --------------------------------------------------------


async def _booking_page(
    uow: UnitOfWork, *, settings: Settings, cycle_id: UUID, base: str, language: str | None,
    errors: forms.Errors, values: Mapping[str, str], done: str | None, status_code: int = 200,
) -> HTMLResponse:
    request = await uow.session.get(BookingRequest, cycle_id)
    if request is None:
        return message(settings, "Your feedback session cannot be booked yet",
                       "Your 360 report is still being prepared. Try this link again later.")
    session = await usecases.live_session_of(uow, cycle_id=cycle_id)
    facilitator = await uow.session.get(Facilitator, session.facilitator_id) if session else None
    offer = (
        await usecases.offered_slots(uow, request, settings=settings, now=now(), language=language)
        if session is None else None
    )
    everyone = (
        await usecases.offered_slots(uow, request, settings=settings, now=now(), language=domain.ANY_LANGUAGE)
        if session is None else None
    )
    languages = sorted({code for o in (everyone.options if everyone else []) for code in o.languages},
                       key=domain.language_name)
    participant = await uow.session.get(Participant, cycle_id)
    return render(
        "book.html", settings=settings, status_code=status_code, home=base, page_title="Your feedback session",
        base=base, session=session, facilitator=facilitator, offer=offer, languages=languages,
        language=offer.language if offer else None, any_language=domain.ANY_LANGUAGE,
        values=values, errors=errors, done=done, automatic=settings.booking_confirmation == "automatic",
        participant_name=participant.name if participant else None,
        min_notice_hours=settings.min_notice_hours,
    )


def language_asked(raw: str | None) -> str | None:
    """The booking page's language filter: a known language, `any`, or nothing (the preferred language)."""
    return raw if raw == domain.ANY_LANGUAGE or raw in domain.LANGUAGE_NAMES else None


@router.get("/book/{cycle_id}/{signature}", response_class=HTMLResponse)
async def booking_page(link: BookingLink, request: Request, runtime: Runtime, settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        return await _booking_page(uow, settings=settings, cycle_id=link.id, base=link.base,
                                   language=language_asked(request.query_params.get("language")), errors=[],
                                   values={}, done=request.query_params.get("done"))


@router.post("/book/{cycle_id}/{signature}", response_class=HTMLResponse, response_model=None)
async def choose_time(link: BookingLink, request: Request, runtime: Runtime,
                      settings: Config) -> HTMLResponse | RedirectResponse:
    values, _ = await form_values(request)
    language = language_asked(values.get("language"))
    slot_id = forms.parse_uuid(values.get("slot"))
    async with runtime.uow() as uow:
        error = "Select a time for your feedback session"
        if slot_id is not None:
            try:
                await usecases.choose_slot(uow, cycle_id=link.id, slot_id=slot_id, language=language,
                                           settings=settings, now=now())
                await uow.commit()
                return redirect(link.base, done="booked")
            except Rejected as rejection:
                error = str(rejection)
        await uow.session.rollback()
        return await _booking_page(uow, settings=settings, cycle_id=link.id, base=link.base, language=language,
                                   errors=[("slot-1", error)], values=values, done=None, status_code=409
                                   if slot_id else 400)


@router.post("/book/{cycle_id}/{signature}/cancel", response_class=HTMLResponse, response_model=None)
async def participant_cancels(link: BookingLink, request: Request, runtime: Runtime,
                              settings: Config) -> HTMLResponse | RedirectResponse:
    values, _ = await form_values(request)
    session_id = forms.parse_uuid(values.get("session_id"))
    async with runtime.uow() as uow:
        try:
            if session_id is None:
                raise Rejected("There is no such session")
            await usecases.cancel_session(uow, session_id=session_id, by="participant", settings=settings, now=now(),
                                          cycle_id=link.id)
            await uow.commit()
        except Rejected as rejection:
            await uow.session.rollback()
            return await _booking_page(uow, settings=settings, cycle_id=link.id, base=link.base, language=None,
                                       errors=[("cancel", str(rejection))], values={}, done=None, status_code=409)
    return redirect(link.base, done="cancelled")


# --- facilitators ----------------------------------------------------------------------------------


async def _facilitator(uow: UnitOfWork, link: SignedLink) -> Facilitator:
    facilitator = await uow.session.get(Facilitator, link.id)
    if facilitator is None:
        raise LinkNotRecognised
    return facilitator


async def _facilitator_page(uow: UnitOfWork, facilitator: Facilitator, *, settings: Settings, base: str,
                            errors: forms.Errors, done: str | None, status_code: int = 200) -> HTMLResponse:
    moment = now()
    rows = await uow.session.execute(
        select(FeedbackSession)
        .where(col(FeedbackSession.facilitator_id) == facilitator.id, usecases.LIVE)
        .order_by(col(FeedbackSession.starts_at))
    )
    sessions = list(rows.scalars())
    free = await usecases.free_slots(uow, facilitator_ids=[facilitator.id], not_before=moment, per_facilitator=40)
    callouts = await uow.session.execute(
        select(Callout, CalloutVolunteer)
        .outerjoin(CalloutVolunteer, (col(CalloutVolunteer.callout_id) == col(Callout.id))
                   & (col(CalloutVolunteer.facilitator_id) == facilitator.id))
        .where(same_region(Callout.region, facilitator.region), col(Callout.register_by) >= today(settings))
        .order_by(col(Callout.register_by))
    )
    events = await uow.session.execute(
        select(CpdEvent, CpdRegistration)
        .outerjoin(CpdRegistration, (col(CpdRegistration.event_id) == col(CpdEvent.id))
                   & (col(CpdRegistration.facilitator_id) == facilitator.id))
        .where(same_region(CpdEvent.region, facilitator.region), col(CpdEvent.starts_at) > moment)
        .order_by(col(CpdEvent.starts_at))
    )
    return render(
        "facilitator.html", settings=settings, status_code=status_code, home=base, page_title="Your facilitator page",
        base=base, facilitator=facilitator, view=facilitator.rules_view(), sessions=sessions, free=free, now=moment,
        callouts=list(events_tuples(callouts)), events=list(events_tuples(events)),
        cpd=await registry.cpd_record(uow, facilitator_id=facilitator.id),
        accredited=domain.is_accredited(facilitator.rules_view()), errors=errors,
        done=DONE_MESSAGES.get(done or ""), Status=SessionStatus,
    )


def events_tuples(result: Any) -> Sequence[tuple[Any, Any]]:
    return list(result.all())


@router.get("/facilitator/{facilitator_id}/{signature}", response_class=HTMLResponse)
async def facilitator_page(link: FacilitatorLink, request: Request, runtime: Runtime,
                           settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        return await _facilitator_page(uow, facilitator, settings=settings, base=request.url.path, errors=[],
                                       done=request.query_params.get("done"))


SessionAction = Literal["confirm", "decline", "cancel", "completed", "no_show"]
ACTION_DONE = {"confirm": "confirmed", "decline": "declined", "cancel": "cancelled", "completed": "completed",
               "no_show": "no_show"}


@router.post("/facilitator/{facilitator_id}/{signature}/sessions/{session_id}", response_class=HTMLResponse,
             response_model=None)
async def session_action(link: FacilitatorLink, session_id: UUID, request: Request, runtime: Runtime,
                         settings: Config) -> HTMLResponse | RedirectResponse:
    values, _ = await form_values(request)
    action = values.get("action", "")
    base = link.base
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        try:
            if action == "confirm":
                await usecases.confirm_session(uow, facilitator_id=facilitator.id, session_id=session_id,
                                               settings=settings, now=now())
            elif action in ("decline", "cancel"):
                await usecases.cancel_session(uow, session_id=session_id, by="facilitator", settings=settings,
                                              now=now(), facilitator_id=facilitator.id)
            elif action in ("completed", "no_show"):
                await usecases.record_outcome(uow, facilitator_id=facilitator.id, session_id=session_id,
                                              outcome=action, now=now())  # type: ignore[arg-type]
            else:
                raise Rejected("Choose what to do with the session")
            await uow.commit()
        except Rejected as rejection:
            await reset(uow, facilitator)
            return await _facilitator_page(uow, facilitator, settings=settings, base=base,
                                           errors=[(f"session-{session_id}", str(rejection))], done=None,
                                           status_code=409)
    return redirect(base, done=ACTION_DONE[action])


async def _reschedule_page(uow: UnitOfWork, facilitator: Facilitator, session_id: UUID, *, settings: Settings,
                           base: str, errors: forms.Errors, status_code: int = 200) -> HTMLResponse:
    session = await uow.session.get(FeedbackSession, session_id)
    if session is None or session.facilitator_id != facilitator.id:
        return message(settings, "There is no such session", "Go back to your facilitator page.", status_code=404)
    free = await usecases.free_slots(uow, facilitator_ids=[facilitator.id],
                                     not_before=now() + timedelta(hours=settings.min_notice_hours),
                                     per_facilitator=settings.offer_limit * 2)
    return render("reschedule.html", settings=settings, status_code=status_code, home=base,
                  page_title="Move a feedback session", base=base, session=session, free=free, errors=errors)


@router.get("/facilitator/{facilitator_id}/{signature}/sessions/{session_id}/reschedule",
            response_class=HTMLResponse)
async def reschedule_form(link: FacilitatorLink, session_id: UUID, runtime: Runtime,
                          settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        return await _reschedule_page(uow, facilitator, session_id, settings=settings,
                                      base=link.base, errors=[])


@router.post("/facilitator/{facilitator_id}/{signature}/sessions/{session_id}/reschedule",
             response_class=HTMLResponse, response_model=None)
async def reschedule(link: FacilitatorLink, session_id: UUID, request: Request, runtime: Runtime,
                     settings: Config) -> HTMLResponse | RedirectResponse:
    values, _ = await form_values(request)
    base = link.base
    slot_id = forms.parse_uuid(values.get("slot"))
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        try:
            if slot_id is None:
                raise Rejected("Select the new time")
            await usecases.reschedule_session(uow, session_id=session_id, slot_id=slot_id, by="facilitator",
                                              settings=settings, now=now(), facilitator_id=facilitator.id)
            await uow.commit()
        except Rejected as rejection:
            await reset(uow, facilitator)
            return await _reschedule_page(uow, facilitator, session_id, settings=settings, base=base,
                                          errors=[("slot-1", str(rejection))], status_code=409)
    return redirect(base, done="rescheduled")


@router.get("/facilitator/{facilitator_id}/{signature}/availability", response_class=HTMLResponse)
async def availability_form(link: FacilitatorLink, runtime: Runtime, settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        base = link.base
        return render("availability.html", settings=settings, home=base, page_title="Add times you are available",
                      base=base, values={"weeks": "1", "minutes": "120"}, facilitator=facilitator,
                      durations=forms.DURATIONS, modes=forms.SESSION_MODES)


@router.post("/facilitator/{facilitator_id}/{signature}/availability", response_class=HTMLResponse,
             response_model=None)
async def publish_availability(link: FacilitatorLink, request: Request, runtime: Runtime,
                               settings: Config) -> HTMLResponse | RedirectResponse:
    values, _ = await form_values(request)
    base = link.base
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        parsed = forms.parse_availability(values, today=now().astimezone(ZoneInfo(facilitator.timezone)).date())
        errors = parsed if isinstance(parsed, list) else []
        if isinstance(parsed, forms.AvailabilityInput):
            try:
                await registry.publish_slots(uow, facilitator=facilitator, availability=parsed, now=now())
                await uow.commit()
                return redirect(base, done="published")
            except Rejected as rejection:
                await reset(uow, facilitator)
                errors = [("start", str(rejection))]
        return render("availability.html", settings=settings, status_code=400, home=base,
                      page_title="Add times you are available", base=base, values=values, errors=errors,
                      facilitator=facilitator, durations=forms.DURATIONS, modes=forms.SESSION_MODES)


@router.post("/facilitator/{facilitator_id}/{signature}/slots/{slot_id}/remove", response_class=HTMLResponse,
             response_model=None)
async def remove_slot(link: FacilitatorLink, slot_id: UUID, runtime: Runtime,
                      settings: Config) -> HTMLResponse | RedirectResponse:
    base = link.base
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        try:
            await registry.remove_slot(uow, facilitator=facilitator, slot_id=slot_id, now=now())
            await uow.commit()
        except Rejected as rejection:
            await reset(uow, facilitator)
            return await _facilitator_page(uow, facilitator, settings=settings, base=base,
                                           errors=[(f"slot-{slot_id}", str(rejection))], done=None, status_code=409)
    return redirect(base, done="removed")


async def _callout_page(uow: UnitOfWork, facilitator: Facilitator, callout_id: UUID, *, settings: Settings, base: str,
                        values: Mapping[str, str], errors: forms.Errors, status_code: int = 200) -> HTMLResponse:
    callout = await uow.session.get(Callout, callout_id)
    if callout is None:
        return message(settings, "There is no such call-out", "Go back to your facilitator page.", status_code=404)
    mine = await uow.session.get(CalloutVolunteer, (callout_id, facilitator.id))
    return render("callout.html", settings=settings, status_code=status_code, home=base, page_title=callout.title,
                  base=base, callout=callout, mine=mine, errors=errors,
                  values=values or ({"sessions": str(mine.sessions_offered)} if mine else {}))


@router.get("/facilitator/{facilitator_id}/{signature}/callouts/{callout_id}", response_class=HTMLResponse)
async def callout_page(link: FacilitatorLink, callout_id: UUID, runtime: Runtime,
                       settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        return await _callout_page(uow, facilitator, callout_id, settings=settings,
                                   base=link.base, values={}, errors=[])


@router.post("/facilitator/{facilitator_id}/{signature}/callouts/{callout_id}", response_class=HTMLResponse,
             response_model=None)
async def volunteer(link: FacilitatorLink, callout_id: UUID, request: Request, runtime: Runtime,
                    settings: Config) -> HTMLResponse | RedirectResponse:
    values, _ = await form_values(request)
    base = link.base
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        parsed = forms.parse_volunteer(values)
        errors = parsed if isinstance(parsed, list) else []
        if isinstance(parsed, int):
            try:
                await registry.volunteer(uow, facilitator=facilitator, callout_id=callout_id, sessions=parsed,
                                         now=now(), settings=settings)
                await uow.commit()
                return redirect(base, done="volunteered")
            except Rejected as rejection:
                await reset(uow, facilitator)
                errors = [("sessions", str(rejection))]
        return await _callout_page(uow, facilitator, callout_id, settings=settings, base=base, values=values,
                                   errors=errors, status_code=400)


@router.post("/facilitator/{facilitator_id}/{signature}/cpd/{event_id}", response_class=HTMLResponse,
             response_model=None)
async def register_for_cpd(link: FacilitatorLink, event_id: UUID, runtime: Runtime,
                           settings: Config) -> HTMLResponse | RedirectResponse:
    base = link.base
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        try:
            await registry.register_for_cpd(uow, facilitator=facilitator, event_id=event_id, now=now())
            await uow.commit()
        except Rejected as rejection:
            await reset(uow, facilitator)
            return await _facilitator_page(uow, facilitator, settings=settings, base=base,
                                           errors=[(f"cpd-{event_id}", str(rejection))], done=None, status_code=409)
    return redirect(base, done="registered")


@router.get("/facilitator/{facilitator_id}/{signature}/interest", response_class=HTMLResponse)
async def interest_form(link: FacilitatorLink, runtime: Runtime, settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        await _facilitator(uow, link)
    base = link.base
    return render("interest.html", settings=settings, home=base, page_title="Interest in future CPD sessions",
                  base=base, values={}, month_options=MONTH_OPTIONS, chosen_months=[], modes=forms.CALLOUT_MODES)


@router.post("/facilitator/{facilitator_id}/{signature}/interest", response_class=HTMLResponse, response_model=None)
async def express_interest(link: FacilitatorLink, request: Request, runtime: Runtime,
                           settings: Config) -> HTMLResponse | RedirectResponse:
    values, multi = await form_values(request)
    base = link.base
    async with runtime.uow() as uow:
        facilitator = await _facilitator(uow, link)
        parsed = forms.parse_interest(values, multi.get("months", []))
        if isinstance(parsed, forms.InterestInput):
            await registry.express_interest(uow, facilitator=facilitator, interest=parsed)
            await uow.commit()
            return redirect(base, done="interest")
    return render("interest.html", settings=settings, status_code=400, home=base,
                  page_title="Interest in future CPD sessions", base=base, values=values, errors=parsed,
                  month_options=MONTH_OPTIONS, chosen_months=multi.get("months", []), modes=forms.CALLOUT_MODES)


# --- regional leads --------------------------------------------------------------------------------


async def _lead(uow: UnitOfWork, link: SignedLink) -> RegionalLead:
    lead = await uow.session.get(RegionalLead, link.id)
    if lead is None:
        raise LinkNotRecognised
    return lead


def _in_region(column: Any, lead: RegionalLead) -> Any:
    """Region names compared as the domain does: ignoring case and repeated spaces."""
    return same_region(column, lead.region)


def same_region(column: Any, region: str) -> Any:
    return func.lower(func.trim(func.regexp_replace(column, r"\s+", " ", "g"))) == " ".join(region.split()).lower()


@router.get("/lead/{lead_id}/{signature}", response_class=HTMLResponse)
async def lead_page(link: LeadLink, request: Request, runtime: Runtime, settings: Config) -> HTMLResponse:
    base = link.base
    async with runtime.uow() as uow:
        lead = await _lead(uow, link)
        has_live = exists().where(col(FeedbackSession.cycle_id) == col(BookingRequest.cycle_id), usecases.LIVE)
        waiting = await uow.session.execute(
            select(BookingRequest)
            # booked ones too while flagged (a facilitator now in the participant's management line)
            .where(_in_region(BookingRequest.region, lead),
                   or_(~has_live, col(BookingRequest.unscheduled_reason).is_not(None)))
            .order_by(col(BookingRequest.created_at))
        )
        facilitators = await uow.session.execute(
            select(Facilitator).where(_in_region(Facilitator.region, lead)).order_by(col(Facilitator.name))
        )
        callouts = await uow.session.execute(
            select(Callout, func.count(col(CalloutVolunteer.facilitator_id)),
                   func.coalesce(func.sum(CalloutVolunteer.sessions_offered), 0))
            .outerjoin(CalloutVolunteer, col(CalloutVolunteer.callout_id) == col(Callout.id))
            .where(col(Callout.lead_id) == lead.id)
            .group_by(col(Callout.id))
            .order_by(col(Callout.period_start).desc())
        )
        events = await uow.session.execute(
            select(CpdEvent, func.count(col(CpdRegistration.facilitator_id)))
            .outerjoin(CpdRegistration, col(CpdRegistration.event_id) == col(CpdEvent.id))
            .where(col(CpdEvent.lead_id) == lead.id)
            .group_by(col(CpdEvent.id))
            .order_by(col(CpdEvent.starts_at).desc())
        )
        interests = await uow.session.execute(
            select(CpdInterest, Facilitator)
            .join(Facilitator, col(Facilitator.id) == col(CpdInterest.facilitator_id))
            .where(_in_region(CpdInterest.region, lead))
            .order_by(col(CpdInterest.created_at).desc())
        )
        return render(
            "lead.html", settings=settings, home=base, page_title=f"Regional lead: {lead.region}", base=base,
            lead=lead, waiting=list(waiting.scalars()), facilitators=list(facilitators.scalars()),
            callouts=list(callouts.all()), events=list(events.all()), interests=list(interests.all()),
            done=DONE_MESSAGES.get(request.query_params.get("done") or ""), accredited=domain.is_accredited,
            now=now(),
        )


def _new_facilitator_page(settings: Settings, base: str, *, values: Mapping[str, str], languages: Sequence[str],
                          errors: forms.Errors, status_code: int = 200) -> HTMLResponse:
    return render("lead_facilitator_new.html", settings=settings, status_code=status_code, home=base,
                  page_title="Add a facilitator", base=base, values=values, chosen_languages=languages, errors=errors,
                  all_languages=domain.LANGUAGE_NAMES)


@router.get("/lead/{lead_id}/{signature}/facilitators/new", response_class=HTMLResponse)
async def new_facilitator_form(link: LeadLink, runtime: Runtime, settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        await _lead(uow, link)
    return _new_facilitator_page(settings, link.base, values={"capacity": "4"},
                                 languages=["en"], errors=[])


@router.post("/lead/{lead_id}/{signature}/facilitators/new", response_class=HTMLResponse, response_model=None)
async def add_facilitator(link: LeadLink, request: Request, runtime: Runtime,
                          settings: Config) -> HTMLResponse | RedirectResponse:
    values, multi = await form_values(request)
    base = link.base
    async with runtime.uow() as uow:
        lead = await _lead(uow, link)
        parsed = forms.parse_facilitator(values, multi.get("languages", []), today=today(settings))
        errors = parsed if isinstance(parsed, list) else []
        if isinstance(parsed, forms.FacilitatorInput):
            try:
                await registry.register_facilitator(uow, lead=lead, details=parsed, now=now())
                await uow.commit()
                return redirect(base, done="facilitator")
            except Rejected as rejection:
                errors = [("email", str(rejection))]
    return _new_facilitator_page(settings, base, values=values, languages=multi.get("languages", []), errors=errors,
                                 status_code=400)


async def _lead_facilitator_page(uow: UnitOfWork, lead: RegionalLead, facilitator_id: UUID, *, settings: Settings,
                                 base: str, values: Mapping[str, str], errors: forms.Errors,
                                 status_code: int = 200) -> HTMLResponse:
    try:
        facilitator = await registry.facilitator_in_region(uow, lead=lead, facilitator_id=facilitator_id)
    except Rejected as rejection:
        return message(settings, "There is no such facilitator", str(rejection), status_code=404)
    upcoming = (await uow.session.execute(
        select(func.count()).where(col(FeedbackSession.facilitator_id) == facilitator.id, usecases.LIVE,
                                   col(FeedbackSession.starts_at) > now()))).scalar_one()
    return render("lead_facilitator.html", settings=settings, status_code=status_code, home=base,
                  page_title=facilitator.name, base=base, facilitator=facilitator, values=values, errors=errors,
                  accredited=domain.is_accredited(facilitator.rules_view()), upcoming=upcoming,
                  cpd=await registry.cpd_record(uow, facilitator_id=facilitator.id),
                  statuses=[(s.value, s.value.capitalize()) for s in domain.FacilitatorStatus],
                  lapsed_keeps=settings.lapsed_keeps_bookings, suspended_keeps=settings.suspended_keeps_bookings)


@router.get("/lead/{lead_id}/{signature}/facilitators/{facilitator_id}", response_class=HTMLResponse)
async def lead_facilitator(link: LeadLink, facilitator_id: UUID, runtime: Runtime,
                           settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        lead = await _lead(uow, link)
        return await _lead_facilitator_page(uow, lead, facilitator_id, settings=settings,
                                            base=link.base, values={}, errors=[])


@router.post("/lead/{lead_id}/{signature}/facilitators/{facilitator_id}", response_class=HTMLResponse,
             response_model=None)
async def update_facilitator(link: LeadLink, facilitator_id: UUID, request: Request, runtime: Runtime,
                             settings: Config) -> HTMLResponse | RedirectResponse:
    values, _ = await form_values(request)
    base = link.base
    async with runtime.uow() as uow:
        lead = await _lead(uow, link)
        errors: forms.Errors = []
        try:
            if values.get("form") == "link":
                await registry.renew_facilitator_link(uow, lead=lead, facilitator_id=facilitator_id,
                                                      settings=settings)
                await uow.commit()
                return redirect(base, done="new_link")
            if values.get("form") == "accreditation":
                accreditation = forms.parse_accreditation(values, today=today(settings))
                if isinstance(accreditation, list):
                    errors = accreditation
                else:
                    await registry.record_accreditation(uow, lead=lead, facilitator_id=facilitator_id,
                                                        accreditation=accreditation)
                    await uow.commit()
                    return redirect(base, done="accredited")
            else:
                status = forms.parse_status(values)
                if isinstance(status, list):
                    errors = status
                else:
                    await registry.change_status(uow, lead=lead, facilitator_id=facilitator_id, status=status,
                                                 settings=settings, now=now())
                    await uow.commit()
                    return redirect(base, done="status")
        except Rejected as rejection:
            errors = [("status-1" if values.get("form") != "accreditation" else "score", str(rejection))]
        await reset(uow, lead)
        return await _lead_facilitator_page(uow, lead, facilitator_id, settings=settings, base=base, values=values,
                                            errors=errors, status_code=400)


@router.get("/lead/{lead_id}/{signature}/callouts/new", response_class=HTMLResponse)
async def new_callout_form(link: LeadLink, runtime: Runtime, settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        await _lead(uow, link)
    base = link.base
    return render("lead_callout_new.html", settings=settings, home=base, page_title="Publish a call-out",
                  base=base, values={}, modes=forms.CALLOUT_MODES)


@router.post("/lead/{lead_id}/{signature}/callouts/new", response_class=HTMLResponse, response_model=None)
async def publish_callout(link: LeadLink, request: Request, runtime: Runtime,
                          settings: Config) -> HTMLResponse | RedirectResponse:
    values, _ = await form_values(request)
    base = link.base
    async with runtime.uow() as uow:
        lead = await _lead(uow, link)
        parsed = forms.parse_callout(values, today=today(settings))
        if isinstance(parsed, forms.CalloutInput):
            callout = await registry.publish_callout(uow, lead=lead, details=parsed)
            await uow.commit()
            return redirect(f"{base}/callouts/{callout.id}", done="callout")
    return render("lead_callout_new.html", settings=settings, status_code=400, home=base,
                  page_title="Publish a call-out", base=base, values=values, errors=parsed, modes=forms.CALLOUT_MODES)


@router.get("/lead/{lead_id}/{signature}/callouts/{callout_id}", response_class=HTMLResponse)
async def lead_callout(link: LeadLink, callout_id: UUID, request: Request, runtime: Runtime,
                       settings: Config) -> HTMLResponse:
    base = link.base
    async with runtime.uow() as uow:
        lead = await _lead(uow, link)
        callout = await uow.session.get(Callout, callout_id)
        if callout is None or callout.lead_id != lead.id:
            return message(settings, "There is no such call-out", "Go back to your regional lead page.",
                           status_code=404)
        view = await registry.callout_view(uow, callout=callout, settings=settings)
        return render("lead_callout.html", settings=settings, home=base, page_title=callout.title, base=base,
                      view=view, done=DONE_MESSAGES.get(request.query_params.get("done") or ""))


@router.get("/lead/{lead_id}/{signature}/cpd/new", response_class=HTMLResponse)
async def new_cpd_form(link: LeadLink, runtime: Runtime, settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        await _lead(uow, link)
    base = link.base
    return render("lead_cpd_new.html", settings=settings, home=base, page_title="Publish a CPD event", base=base,
                  values={})


@router.post("/lead/{lead_id}/{signature}/cpd/new", response_class=HTMLResponse, response_model=None)
async def publish_cpd(link: LeadLink, request: Request, runtime: Runtime,
                      settings: Config) -> HTMLResponse | RedirectResponse:
    values, _ = await form_values(request)
    base = link.base
    async with runtime.uow() as uow:
        lead = await _lead(uow, link)
        parsed = forms.parse_cpd_event(values, today=today(settings))
        errors = parsed if isinstance(parsed, list) else []
        if isinstance(parsed, forms.CpdEventInput):
            try:
                event = await registry.publish_cpd_event(uow, lead=lead, details=parsed, settings=settings)
                await uow.commit()
                return redirect(f"{base}/cpd/{event.id}", done="cpd")
            except Rejected as rejection:
                errors = [("start", str(rejection))]
    return render("lead_cpd_new.html", settings=settings, status_code=400, home=base, page_title="Publish a CPD event",
                  base=base, values=values, errors=errors)


async def _lead_cpd_page(uow: UnitOfWork, lead: RegionalLead, event_id: UUID, *, settings: Settings, base: str,
                         done: str | None, errors: forms.Errors, status_code: int = 200) -> HTMLResponse:
    event = await uow.session.get(CpdEvent, event_id)
    if event is None or event.lead_id != lead.id:
        return message(settings, "There is no such CPD event", "Go back to your regional lead page.", status_code=404)
    rows = await uow.session.execute(
        select(CpdRegistration, Facilitator)
        .join(Facilitator, col(Facilitator.id) == col(CpdRegistration.facilitator_id))
        .where(col(CpdRegistration.event_id) == event_id)
        .order_by(col(Facilitator.name))
    )
    registrations = list(rows.all())
    return render("lead_cpd.html", settings=settings, status_code=status_code, home=base, page_title=event.title,
                  base=base, event=event, registrations=registrations, done=DONE_MESSAGES.get(done or ""),
                  errors=errors, started=event.starts_at <= now(),
                  attendance_options=[(str(f.id), f"{f.name} ({f.organisation})") for _, f in registrations],
                  ticked=[str(f.id) for r, f in registrations if r.attended])


@router.get("/lead/{lead_id}/{signature}/cpd/{event_id}", response_class=HTMLResponse)
async def lead_cpd(link: LeadLink, event_id: UUID, request: Request, runtime: Runtime,
                   settings: Config) -> HTMLResponse:
    async with runtime.uow() as uow:
        lead = await _lead(uow, link)
        return await _lead_cpd_page(uow, lead, event_id, settings=settings, base=link.base,
                                    done=request.query_params.get("done"), errors=[])


@router.post("/lead/{lead_id}/{signature}/cpd/{event_id}", response_class=HTMLResponse, response_model=None)
async def record_attendance(link: LeadLink, event_id: UUID, request: Request, runtime: Runtime,
                            settings: Config) -> HTMLResponse | RedirectResponse:
    _, multi = await form_values(request)
    base = link.base
    async with runtime.uow() as uow:
        lead = await _lead(uow, link)
        registered = (await uow.session.execute(
            select(col(CpdRegistration.facilitator_id)).where(col(CpdRegistration.event_id) == event_id))).scalars()
        attended = forms.parse_attendance(multi, registered=list(registered))
        try:
            await registry.record_attendance(uow, lead=lead, event_id=event_id, attended=attended)
            await uow.commit()
        except Rejected as rejection:
            return await _lead_cpd_page(uow, lead, event_id, settings=settings, base=base, done=None,
                                        errors=[("attendance", str(rejection))], status_code=404)
    return redirect(f"{base}/cpd/{event_id}", done="attendance")
