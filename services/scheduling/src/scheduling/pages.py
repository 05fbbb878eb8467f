"""Rendering of the server-rendered NHS.UK pages (jinja2 `templates/`) from typed views; no queries.

- the participant's booking page (`/book/...`);
- the facilitator's pages: sessions, availability, call-outs, CPD, interest form (`/facilitator/...`);
- the regional lead's pages: register, call-outs, CPD events, unbooked sessions (`/lead/...`).

Every form re-displays what was typed with an error summary linking to the fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from fastapi.responses import HTMLResponse

from scheduling import domain, forms
from scheduling.config import Settings
from scheduling.domain import SessionStatus
from shared.web import page_templates

if TYPE_CHECKING:
    from scheduling.tables import Facilitator, RegionalLead
    from scheduling.usecases.community import CalloutOffer, CalloutView, CpdEventPage
    from scheduling.usecases.participant_view import BookingPage
    from scheduling.usecases.registry import LeadFacilitatorPage, LeadHome
    from scheduling.usecases.sessions import FacilitatorHome, RescheduleChoices

_templates = page_templates("scheduling")
SERVICE_NAME = "HLM 360 feedback sessions"
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


def render(
    template: str, *, settings: Settings, status_code: int = 200, home: str = "", **context: Any
) -> HTMLResponse:
    tz = ZoneInfo(settings.timezone)
    body = _templates.get_template(template).render(
        service_name=SERVICE_NAME,
        home_href=home or "#maincontent",
        errors=context.pop("errors", []),
        when=lambda start, end: domain.format_when(start, end, tz=tz),
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
    return message(
        settings,
        "Link not recognised",
        "We do not recognise this link. Check that you used the whole link from your email.",
        status_code=404,
    )


def link_expired(settings: Settings, *, action: str) -> HTMLResponse:
    """410 Gone: a booking link we signed whose time has passed (a forged one gets the 404 above)."""
    return render(
        "link_expired.html", settings=settings, status_code=410, page_title="This link has expired", action=action
    )


def new_link_asked(settings: Settings) -> HTMLResponse:
    """The same answer whether or not a link was sent: it says nothing about the booking or the address."""
    return message(
        settings,
        "Check your email",
        "If there is a new link to send, we have emailed it to the address we already have for you.",
        "It can take a few minutes to arrive: check your junk folder too.",
        "If nothing arrives, contact your programme team.",
    )


def done_message(done: str | None) -> str | None:
    return DONE_MESSAGES.get(done or "")


# --- participant -------------------------------------------------------------------------------------


def not_bookable_yet(settings: Settings) -> HTMLResponse:
    return message(
        settings,
        "Your feedback session cannot be booked yet",
        "Your 360 report is still being prepared. Try this link again later.",
    )


def booking(
    settings: Settings,
    view: BookingPage,
    *,
    base: str,
    errors: forms.Errors,
    values: Mapping[str, str],
    done: str | None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        "book.html",
        settings=settings,
        status_code=status_code,
        home=base,
        page_title="Your feedback session",
        base=base,
        session=view.session,
        facilitator=view.facilitator,
        offer=view.offer,
        languages=view.languages,
        language=view.offer.language if view.offer else None,
        any_language=domain.ANY_LANGUAGE,
        values=values,
        errors=errors,
        done=done,
        automatic=settings.booking_confirmation == "automatic",
        participant_name=view.participant_name,
        min_notice_hours=settings.min_notice_hours,
    )


# --- facilitator -------------------------------------------------------------------------------------


def facilitator_home(
    settings: Settings,
    facilitator: Facilitator,
    home: FacilitatorHome,
    *,
    base: str,
    now: datetime,
    errors: forms.Errors,
    done: str | None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        "facilitator.html",
        settings=settings,
        status_code=status_code,
        home=base,
        page_title="Your facilitator page",
        base=base,
        facilitator=facilitator,
        view=facilitator.rules_view(),
        sessions=home.sessions,
        free=home.free,
        now=now,
        callouts=home.callouts,
        events=home.events,
        cpd=home.cpd,
        accredited=domain.is_accredited(facilitator.rules_view()),
        errors=errors,
        done=done_message(done),
        Status=SessionStatus,
    )


def no_such(settings: Settings, what: str, back_to: str) -> HTMLResponse:
    """404 for a session, call-out, CPD event or facilitator that is not the link holder's."""
    return message(settings, f"There is no such {what}", f"Go back to your {back_to} page.", status_code=404)


def reschedule(
    settings: Settings, choices: RescheduleChoices, *, base: str, errors: forms.Errors, status_code: int = 200
) -> HTMLResponse:
    return render(
        "reschedule.html",
        settings=settings,
        status_code=status_code,
        home=base,
        page_title="Move a feedback session",
        base=base,
        session=choices.session,
        free=choices.free,
        errors=errors,
    )


def availability(
    settings: Settings,
    facilitator: Facilitator,
    *,
    base: str,
    values: Mapping[str, str],
    errors: forms.Errors,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        "availability.html",
        settings=settings,
        status_code=status_code,
        home=base,
        page_title="Add times you are available",
        base=base,
        values=values,
        errors=errors,
        facilitator=facilitator,
        durations=forms.DURATIONS,
        modes=forms.SESSION_MODES,
    )


def callout(
    settings: Settings,
    offer: CalloutOffer,
    *,
    base: str,
    values: Mapping[str, str],
    errors: forms.Errors,
    status_code: int = 200,
) -> HTMLResponse:
    mine = offer.mine
    return render(
        "callout.html",
        settings=settings,
        status_code=status_code,
        home=base,
        page_title=offer.callout.title,
        base=base,
        callout=offer.callout,
        mine=mine,
        errors=errors,
        values=values or ({"sessions": str(mine.sessions_offered)} if mine else {}),
    )


def interest(
    settings: Settings,
    *,
    base: str,
    values: Mapping[str, str],
    chosen_months: Sequence[str],
    errors: forms.Errors,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        "interest.html",
        settings=settings,
        status_code=status_code,
        home=base,
        page_title="Interest in future CPD sessions",
        base=base,
        values=values,
        errors=errors,
        month_options=MONTH_OPTIONS,
        chosen_months=chosen_months,
        modes=forms.CALLOUT_MODES,
    )


# --- regional lead -----------------------------------------------------------------------------------


def lead_home(
    settings: Settings, lead: RegionalLead, home: LeadHome, *, base: str, done: str | None, now: datetime
) -> HTMLResponse:
    return render(
        "lead.html",
        settings=settings,
        home=base,
        page_title=f"Regional lead: {lead.region}",
        base=base,
        lead=lead,
        waiting=home.waiting,
        facilitators=home.facilitators,
        callouts=home.callouts,
        events=home.events,
        interests=home.interests,
        done=done_message(done),
        accredited=domain.is_accredited,
        now=now,
    )


def new_facilitator(
    settings: Settings,
    *,
    base: str,
    values: Mapping[str, str],
    languages: Sequence[str],
    errors: forms.Errors,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        "lead_facilitator_new.html",
        settings=settings,
        status_code=status_code,
        home=base,
        page_title="Add a facilitator",
        base=base,
        values=values,
        chosen_languages=languages,
        errors=errors,
        all_languages=domain.LANGUAGE_NAMES,
    )


def lead_facilitator(
    settings: Settings,
    view: LeadFacilitatorPage,
    *,
    base: str,
    values: Mapping[str, str],
    errors: forms.Errors,
    status_code: int = 200,
) -> HTMLResponse:
    facilitator = view.facilitator
    return render(
        "lead_facilitator.html",
        settings=settings,
        status_code=status_code,
        home=base,
        page_title=facilitator.name,
        base=base,
        facilitator=facilitator,
        values=values,
        errors=errors,
        accredited=domain.is_accredited(facilitator.rules_view()),
        upcoming=view.upcoming,
        cpd=view.cpd,
        statuses=[(s.value, s.value.capitalize()) for s in domain.FacilitatorStatus],
        lapsed_keeps=settings.lapsed_keeps_bookings,
        suspended_keeps=settings.suspended_keeps_bookings,
    )


def new_callout(
    settings: Settings, *, base: str, values: Mapping[str, str], errors: forms.Errors, status_code: int = 200
) -> HTMLResponse:
    return render(
        "lead_callout_new.html",
        settings=settings,
        status_code=status_code,
        home=base,
        page_title="Publish a call-out",
        base=base,
        values=values,
        errors=errors,
        modes=forms.CALLOUT_MODES,
    )


def lead_callout(settings: Settings, view: CalloutView, *, base: str, done: str | None) -> HTMLResponse:
    return render(
        "lead_callout.html",
        settings=settings,
        home=base,
        page_title=view.callout.title,
        base=base,
        view=view,
        done=done_message(done),
    )


def new_cpd_event(
    settings: Settings, *, base: str, values: Mapping[str, str], errors: forms.Errors, status_code: int = 200
) -> HTMLResponse:
    return render(
        "lead_cpd_new.html",
        settings=settings,
        status_code=status_code,
        home=base,
        page_title="Publish a CPD event",
        base=base,
        values=values,
        errors=errors,
    )


def lead_cpd_event(
    settings: Settings,
    view: CpdEventPage,
    *,
    base: str,
    done: str | None,
    errors: forms.Errors,
    now: datetime,
    status_code: int = 200,
) -> HTMLResponse:
    event, registrations = view.event, view.registrations
    return render(
        "lead_cpd.html",
        settings=settings,
        status_code=status_code,
        home=base,
        page_title=event.title,
        base=base,
        event=event,
        registrations=registrations,
        done=done_message(done),
        errors=errors,
        started=event.starts_at <= now,
        attendance_options=[(str(f.id), f"{f.name} ({f.organisation})") for _, f in registrations],
        ticked=[str(f.id) for r, f in registrations if r.attended],
    )
