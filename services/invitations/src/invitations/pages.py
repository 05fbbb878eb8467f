"""Rendering the service's pages (jinja2 `templates/pages/`) from what the use cases read; no queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi.responses import HTMLResponse

from invitations.domain import FUNDING_REFERENCE_NAMES, GROUP_TITLES, LONDON, SESSION_LANGUAGES, quote, when
from invitations.forms import REGIONS, ROWS
from shared.contracts.vocabulary import FundingMethod, RaterGroup
from shared.web import page_templates

if TYPE_CHECKING:
    from invitations.config import Settings
    from invitations.forms import StartForm
    from invitations.tables import Facilitator, Rater
    from invitations.usecases.dashboard import ApprovalView, ParticipantView

_pages = page_templates("invitations")

FUNDING_LABELS = {
    FundingMethod.SELF_FUNDED: "I am paying myself",
    FundingMethod.PURCHASE_ORDER: "My organisation is paying with a purchase order",
    FundingMethod.PROGRAMME_CREDIT: "My programme has pre-paid credits",
}
DASHBOARD_NOTICES = {
    "replaced": "We have invited the person you nominated.",
    "extended": "The deadline has been changed.",
    "closing": "Your 360 is closing. We will email you when it has closed.",
}


def render(name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("errors", [])
    errors: list[tuple[str, str]] = context["errors"]
    context["error_for"] = lambda field_id: next((m for f, m in errors if f == field_id), None)
    context.setdefault("service_name", "HLM 360 feedback")
    return HTMLResponse(_pages.get_template(name).render(**context), status_code=status_code)


def message(*, title: str, body: str, heading: str | None = None, status_code: int = 200) -> HTMLResponse:
    return render("pages/message.html", status_code=status_code, page_title=title, heading=heading or title, body=body)


def bad_link(status_code: int = 404) -> HTMLResponse:
    return message(
        title="This link does not work",
        status_code=status_code,
        body="Check that you copied the whole link from your email. If it still does not work, "
        "contact the person who asked you to take part.",
    )


EXPIRED_LINKS = {  # purpose: (what expired, whether a new one can be emailed)
    "participant": ("The link to follow your 360 has expired.", True),
    "approval": ("The link to approve this feedback list has expired.", True),
    "confirm": ("The link to confirm your 360 has expired. A 360 that is not confirmed in time is not started.", False),
}


def link_expired(purpose: str, *, base: str) -> HTMLResponse:
    """410 Gone: the link was ours but its time has passed (a forged one gets bad_link's 404)."""
    what, renewable = EXPIRED_LINKS.get(purpose, ("This link has expired.", False))
    paragraphs = [what, "Personal links stop working after a while, so an old email cannot be used to open them."]
    if renewable:
        paragraphs.append("We can email a new link to the address we already have for you.")
    return render(
        "pages/link_expired.html",
        status_code=410,
        page_title="This link has expired",
        paragraphs=paragraphs,
        action=f"{base}/new-link" if renewable else None,
        start=purpose == "confirm",
    )


def new_link_asked() -> HTMLResponse:
    """The same answer whether or not a link was sent: it says nothing about the 360 or the address."""
    return message(
        title="Check your email",
        body="If there is a new link to send, we have emailed it to the address we already have for you. "
        "It can take a few minutes to arrive: check your junk folder too. "
        "If nothing arrives, contact the person who asked you to take part.",
    )


def start(form: StartForm, *, facilitators: Sequence[Facilitator], settings: Settings) -> HTMLResponse:
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
            (str(f.id), facilitator_label(f.name, f.region, f.free_slots, f.next_free_slot_at)) for f in facilitators
        ],
        funding_options=[(m.value, label) for m, label in FUNDING_LABELS.items()],
        price=quote(net=settings.price_net, vat_rate=settings.vat_rate),
        settings=settings,
    )


def facilitator_label(name: str | None, region: str | None, free_slots: int | None, next_free: datetime | None) -> str:
    label = f"{name or 'Facilitator'} ({region or 'region not given'})"
    if free_slots == 0:
        label += ", no free sessions at the moment"
    elif next_free is not None:
        label += f", next free session {when(next_free)}"
    return label


def started(status: str | None) -> HTMLResponse:
    if status is None:
        return message(title="Page not found", status_code=404, body="We could not find that 360.")
    if status == "awaiting_confirmation":
        return message(
            title="Check your email",
            body="We have emailed you a link to confirm your 360. Nobody is contacted until you confirm it. "
            "If the email does not arrive, check the address you gave and your junk folder.",
        )
    return render("pages/started.html", page_title="Your 360 has started", awaiting=status == "awaiting_approval")


def confirm(*, action: str) -> HTMLResponse:
    return render("pages/confirm.html", page_title="Confirm your 360", action=action)


def confirmed(status: str) -> HTMLResponse:
    if status == "awaiting_approval":
        body = "Thank you. We have asked your line manager to approve your list; we invite everyone once they do."
    else:
        body = "Thank you. We are inviting everyone you named, and emailing you a link to rate yourself."
    return message(title="Your 360 is confirmed", body=body)


def dashboard(
    view: ParticipantView,
    *,
    base: str,
    settings: Settings,
    errors: list[tuple[str, str]] | None = None,
    values: dict[str, str] | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    local_deadline = view.cycle.deadline.astimezone(LONDON)
    values = values or {
        "deadline_day": str(local_deadline.day),
        "deadline_month": str(local_deadline.month),
        "deadline_year": str(local_deadline.year),
    }
    return render(
        "pages/dashboard.html",
        status_code=422 if errors else 200,
        page_title="Your 360",
        errors=errors or [],
        view=view,
        v=values,
        base=base,
        deadline=when(view.cycle.deadline),
        self_link=view.self_link,
        titles=GROUP_TITLES,
        funding_name=FUNDING_REFERENCE_NAMES[FundingMethod(view.cycle.funding_method)],
        notice=notice,
        settings=settings,
    )


def close(*, base: str) -> HTMLResponse:
    return render("pages/close.html", page_title="Close your 360 now?", base=base)


def replace(rater: Rater | None, *, base: str, values: dict[str, str], errors: list[tuple[str, str]]) -> HTMLResponse:
    if rater is None:
        return message(title="No replacement needed", status_code=404, body="This person does not need replacing.")
    return render(
        "pages/replace.html",
        status_code=422 if errors else 200,
        page_title="Nominate someone else",
        errors=errors,
        v=values,
        rater=rater,
        group_title=GROUP_TITLES[RaterGroup(rater.group)].lower(),
        base=base,
    )


def approval(view: ApprovalView | None, *, errors: list[tuple[str, str]]) -> HTMLResponse:
    if view is None:
        return bad_link()
    return render(
        "pages/approve.html",
        status_code=422 if errors else 200,
        page_title="Approve the feedback list",
        errors=errors,
        cycle=view.cycle,
        groups=view.groups,
        decided=view.decided,
    )


def decision_saved(*, approved: bool) -> HTMLResponse:
    body = (
        "Thank you. Everyone on the list is being invited, including you."
        if approved
        else "Thank you. Nobody will be invited; we have told the participant."
    )
    return message(title="Decision saved", body=body)
