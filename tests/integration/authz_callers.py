"""The callers of the authorisation matrix (tests/integration/authz_matrix.py) and what each presents.

Every credential is made by ONE small function per kind, through the services' own link helpers
(invitations.emails, scheduling.links.Links, reports.links.sign), never by re-signing here: when a
link's format changes (say, it gains a signed expiry), the matrix follows by itself.

A request for (route, caller) is the route's path filled with the seeded subject's ids (participant
A's cycle, facilitator A, lead A of London, A's session, slot, call-out, CPD event...), with the
caller's secret in the link's secret slot (`token` / `signature`) and, for the operators' routes,
the caller's `Authorization` header. A caller without a link of the route's kind presents the
nearest secret they hold (a participant's booking signature on a facilitator page, a rater's token
on the participant's view, made-up text for callers who hold no link at all): every wrong secret is
a chance for the check to mistake it for the right one.

"Another facilitator" and "another region's lead" are B, valid in their own right (Midlands): on a
GET of a resource under the link (a session, call-out, CPD event, a facilitator of the region) B
presents B's own whole link, so the service's check that the resource is the holder's is what
refuses; elsewhere (the link's own page, and POSTs, whose empty form stops before the resource is
looked at) B's signature is put on A's id, so the signature check is what refuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from invitations import emails as invitation_emails
from invitations.config import Settings as InvitationSettings
from invitations.tables import Rater
from ratings.questionnaire import MAX_COMMENT_CHARS
from reports import links as report_links
from reports.config import Settings as ReportSettings
from scheduling.config import Settings as SchedulingSettings
from scheduling.links import LinkHolder, Links

ANONYMOUS = "anonymous"
RATER = "rater"
PARTICIPANT = "participant"
LINE_MANAGER = "line-manager"
FACILITATOR = "facilitator"
OTHER_FACILITATOR = "another-facilitator"
LEAD = "regional-lead"
OTHER_LEAD = "another-regions-lead"
PROGRAMME_LEAD = "programme-lead"
ADMIN = "admin"
OTHER_ADMIN = "another-services-admin"
STAFF = "oidc-with-role"
STAFF_NO_ROLE = "oidc-without-role"
OBSERVER = "observer"  # signed in to the observations journal (its session cookie)
OTHER_OBSERVER = "another-observer"
CALLERS = (
    ANONYMOUS,
    RATER,
    PARTICIPANT,
    LINE_MANAGER,
    FACILITATOR,
    OTHER_FACILITATOR,
    LEAD,
    OTHER_LEAD,
    PROGRAMME_LEAD,
    ADMIN,
    OTHER_ADMIN,
    STAFF,
    STAFF_NO_ROLE,
    OBSERVER,
    OTHER_OBSERVER,
)
MADE_UP = "made-up-" + "Q" * 35  # the length of a real signature, signed by nobody
OTHER_SERVICE = {
    "invitations": "ratings",
    "ratings": "reports",
    "reports": "scheduling",
    "scheduling": "observations",
    "observations": "invitations",
}
SESSION_COOKIES = {"observations": "hlm360_observations"}  # the services whose pages take a signed-in cookie


# --- one function per kind of credential, each through the owning service's own helper -------------


def _last(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def participant_token(settings: InvitationSettings, cycle_id: UUID) -> str:
    return _last(invitation_emails.participant_link(settings, cycle_id))


def approval_token(settings: InvitationSettings, cycle_id: UUID) -> str:
    return _last(invitation_emails.approval_link(settings, cycle_id))


def confirm_token(settings: InvitationSettings, cycle_id: UUID) -> str:
    return _last(invitation_emails.confirm_link(settings, cycle_id))


def rater_token(settings: InvitationSettings, rater: Rater) -> str:
    return _last(invitation_emails.rater_link(settings, rater))


def _scheduling_links(settings: SchedulingSettings) -> Links:
    return Links(keys=settings.signing_keys(), base_url=settings.base_url)


def booking_signature(settings: SchedulingSettings, cycle_id: UUID) -> str:
    return _last(_scheduling_links(settings).booking_url(cycle_id, now=datetime.now(UTC)))


def facilitator_signature(settings: SchedulingSettings, facilitator: LinkHolder) -> str:
    return _last(_scheduling_links(settings).facilitator(facilitator))


def lead_signature(settings: SchedulingSettings, lead: LinkHolder) -> str:
    return _last(_scheduling_links(settings).lead(lead))


def report_token(settings: ReportSettings, *, report_id: UUID, role: str, holder_id: UUID | None) -> str:
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    link = report_links.Link(kind="report", subject_id=report_id, role=role, holder_id=holder_id, expires_at=expires_at)
    return report_links.sign(link, keys=settings.signing_keys())


# --- what the seed holds, and what each caller presents --------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """The subject of every route (participant A's 360, facilitator A, London's lead...) and each
    caller's secrets; `admin_tokens` by service, `staff_tokens` by whether the token has the role."""

    path_values: dict[str, str]
    secrets: dict[tuple[str, str], str]  # (caller, link kind) -> secret
    own_links: dict[tuple[str, str], dict[str, str]]  # (caller, link kind) -> B's own id and signature
    admin_tokens: dict[str, str]
    staff_tokens: dict[bool, str]
    cookies: dict[str, str] = field(default_factory=dict)  # caller -> their session cookie (observations)


# the kind of personal link a route's path starts with (its first one or two segments), per service
LINK_KINDS = {
    ("invitations", "p"): "participant",
    ("invitations", "approve"): "approval",
    ("invitations", "confirm"): "confirm",
    ("ratings", "r"): "rater",
    ("ratings", "self-assessment"): "self_assessment",
    ("reports", "report"): "report",
    ("reports", "report/self-assessment"): "self_assessment_report",
    ("reports", "cohort"): "cohort",
    ("scheduling", "book"): "booking",
    ("scheduling", "facilitator"): "facilitator",
    ("scheduling", "lead"): "lead",
    ("observations", "observations/sign-in"): "sign_in",
}
SECRET_SLOTS = ("token", "signature")
HOLDERS = {"facilitator": "facilitator_id", "lead": "lead_id"}  # the links whose pages hold resources
STATIC = {"/assets": "/assets/init.js"}  # a mounted directory is asked for one real file
QUERIES = {("scheduling", "/api/sessions"): "cycle_id"}  # a required query parameter: the subject's
# forms that would change the subject, sent invalid instead so that later requests find it as seeded
FORMS = {("ratings", "/r/{token}/decline"): {"reason": "x" * (MAX_COMMENT_CHARS + 1)}}


def link_kind(service: str, path: str) -> str | None:
    parts = path.strip("/").split("/")
    return LINK_KINDS.get((service, "/".join(parts[:2])), LINK_KINDS.get((service, parts[0])))


def headers_of(caller: str, service: str, seeded: Seeded) -> dict[str, str]:
    token = {
        ADMIN: seeded.admin_tokens[service],
        OTHER_ADMIN: seeded.admin_tokens[OTHER_SERVICE[service]],
        STAFF: seeded.staff_tokens[True],
        STAFF_NO_ROLE: seeded.staff_tokens[False],
    }.get(caller)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    cookie = seeded.cookies.get(caller)
    if cookie and service in SESSION_COOKIES:
        headers["Cookie"] = f"{SESSION_COOKIES[service]}={cookie}"
    return headers


def _under_the_link(path: str, kind: str) -> bool:
    """Whether the path names a resource under the link (`.../sessions/{session_id}`)."""
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return kind in HOLDERS and any(name not in (HOLDERS[kind], "signature") for name in names)


def path_values(service: str, method: str, path: str, caller: str, seeded: Seeded) -> dict[str, str]:
    values = dict(seeded.path_values)
    kind = link_kind(service, path)
    if kind is None:
        return values
    own = seeded.own_links.get((caller, kind))
    if own is not None and method == "GET" and _under_the_link(path, kind):
        return values | own
    secret = seeded.secrets.get((caller, kind), seeded.secrets.get((caller, "*"), MADE_UP))
    return values | dict.fromkeys(SECRET_SLOTS, secret)


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    headers: dict[str, str]
    params: dict[str, str]
    body: dict[str, Any]


def call(service: str, method: str, path: str, caller: str, seeded: Seeded) -> Call:
    """The request `caller` makes of a route: an empty body (JSON for the API, a form for pages; an
    invalid form where an empty one would change the subject), so an allowed caller gets past the
    check and is stopped, at most, by validation."""
    values = path_values(service, method, path, caller, seeded)
    url = STATIC.get(path) or path.format(**values)
    query = QUERIES.get((service, path))
    params = {query: values[query]} if query else {}
    body: dict[str, Any] = {}
    if method == "POST":
        body = {"json": {}} if path.startswith("/api/") else {"data": FORMS.get((service, path), {})}
    return Call(method, url, headers_of(caller, service, seeded), params, body)
