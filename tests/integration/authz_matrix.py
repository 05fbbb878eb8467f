"""The authorisation matrix: every HTTP route of every service, and which callers it lets in.

Callers (tests/integration/authz_callers.py says what each presents):
- anonymous: nothing at all;
- rater: their personal ratings link (`/r/{token}`);
- participant (A): their private view, confirmation link, booking link, self-assessment links
  and, once released, their report link;
- line manager: the approval link of A's nomination list;
- facilitator (A): their personal page and the report link of the session they hold;
- another facilitator (B, another region): their own valid links, used on A's subject;
- regional lead (London, A's region) and another region's lead (Midlands): their lead pages;
- programme lead: the signed link to a programme's cohort report;
- admin: this service's static admin token; another service's admin: the token of another one;
- a staff OIDC access token with the operator role, and one without it.
- observer: signed in to the observations journal (its session cookie), holding one observation and
  a one-time sign-in link not used yet; another observer: signed in to an account of their own.

The rule, checked by test_authz_matrix.py with one real request per route and caller: an allowed
caller is not refused, so the answer is neither 401, 403, 404, 410 nor 429, and not a server error
(a form or body sent empty is answered 200, 303, 400, 409 or 422: past the check, stopped by
validation); a refused caller gets 401 or 403 (the operators' API; a report link whose holder does
not hold the session, or before release) or 404 (a personal link that does not verify, or a
resource that is not the link holder's: the services answer both with a "not recognised" or "no
such" 404 page, so a stranger cannot tell a wrong link from a missing one). The per-address limits
are raised for the matrix's own client address, so a 429 is a failure either way.

A route missing here, or named here and no longer served, fails the test: a new route needs a
decision about who may call it."""

from __future__ import annotations

from tests.integration.authz_callers import (
    ADMIN,
    CALLERS,
    FACILITATOR,
    LEAD,
    LINE_MANAGER,
    OBSERVER,
    OTHER_OBSERVER,
    PARTICIPANT,
    PROGRAMME_LEAD,
    RATER,
    STAFF,
)

EVERYONE = frozenset(CALLERS)
OPERATORS = frozenset({ADMIN, STAFF})  # ADR 8 and 13: the service's own token, or a staff token with the role


def only(*callers: str) -> frozenset[str]:
    return frozenset(callers)


# what every service serves the same way (shared.service, shared.web): public by design
COMMON = {
    "GET /openapi.json": EVERYONE,
    "GET /assets": EVERYONE,  # the NHS.UK stylesheet, script and icons
    "GET /metrics": EVERYONE,  # Prometheus counts: no names, no ids (style rule 10)
    "GET /healthz": EVERYONE,
}

INVITATIONS = {
    **COMMON,
    "POST /api/cycles": EVERYONE,  # the same as the public start page (ADR 8), confirmed by email
    "GET /api/cycles/{cycle_id}": OPERATORS,
    "GET /api/facilitators": EVERYONE,  # names and regions shown on the start page
    "GET /": EVERYONE,
    "GET /start": EVERYONE,
    "POST /start": EVERYONE,
    "GET /started/{cycle_id}": EVERYONE,  # the cycle's status word only
    "GET /confirm/{cycle_id}/{token}": only(PARTICIPANT),
    "POST /confirm/{cycle_id}/{token}": only(PARTICIPANT),
    "GET /p/{cycle_id}/{token}": only(PARTICIPANT),
    "POST /p/{cycle_id}/{token}/deadline": only(PARTICIPANT),
    "GET /p/{cycle_id}/{token}/close": only(PARTICIPANT),
    "POST /p/{cycle_id}/{token}/close": only(PARTICIPANT),
    "GET /p/{cycle_id}/{token}/replace/{rater_id}": only(PARTICIPANT),
    "POST /p/{cycle_id}/{token}/replace/{rater_id}": only(PARTICIPANT),
    "GET /approve/{cycle_id}/{token}": only(LINE_MANAGER),
    "POST /approve/{cycle_id}/{token}": only(LINE_MANAGER),
    # a fresh link, emailed to the address on record (the link may have expired: it is still the proof)
    "POST /p/{cycle_id}/{token}/new-link": only(PARTICIPANT),
    "POST /approve/{cycle_id}/{token}/new-link": only(LINE_MANAGER),
}

RATINGS = {
    **COMMON,
    "GET /r/{token}": only(RATER),
    "GET /r/{token}/done": only(RATER),
    "GET /r/{token}/declined": only(RATER),
    "GET /r/{token}/decline": only(RATER),
    "POST /r/{token}/decline": only(RATER),
    "GET /r/{token}/check": only(RATER),
    "POST /r/{token}/check": only(RATER),
    "GET /r/{token}/{page_name}": only(RATER),
    "POST /r/{token}/{page_name}": only(RATER),
    "GET /self-assessment": EVERYONE,  # the free self-assessment: anyone may start one
    "POST /self-assessment": EVERYONE,
    "GET /self-assessment/{token}": only(PARTICIPANT),
    "GET /self-assessment/{token}/check": only(PARTICIPANT),
    "POST /self-assessment/{token}/check": only(PARTICIPANT),
    "GET /self-assessment/{token}/{page_name}": only(PARTICIPANT),
    "POST /self-assessment/{token}/{page_name}": only(PARTICIPANT),
    "GET /api/cycles/{cycle_id}": OPERATORS,
    "POST /api/cycles/{cycle_id}/close": OPERATORS,
}

REPORTS = {
    **COMMON,
    "GET /report.css": EVERYONE,
    "GET /report-status.js": EVERYONE,
    "GET /api/cycles/{cycle_id}/report": OPERATORS,
    "POST /api/cohorts": OPERATORS,
    "POST /api/cycles/{cycle_id}/report/release": OPERATORS,
    "POST /api/cycles/{cycle_id}/report/participant-link": OPERATORS,
    # the session's facilitator, and the participant once the report is released
    "GET /report/{token}": only(FACILITATOR, PARTICIPANT),
    "GET /report/{token}/pdf": only(FACILITATOR, PARTICIPANT),
    "GET /report/self-assessment/{assessment_id}/{token}": only(PARTICIPANT),
    "GET /report/self-assessment/{assessment_id}/{token}/pdf": only(PARTICIPANT),
    "GET /cohort/{token}": only(PROGRAMME_LEAD),
    "GET /cohort/{token}/pdf": only(PROGRAMME_LEAD),
}

_FACILITATOR_PAGE = "/facilitator/{facilitator_id}/{signature}"
_LEAD_PAGE = "/lead/{lead_id}/{signature}"
SCHEDULING = {
    **COMMON,
    "GET /api/facilitators": EVERYONE,  # the public directory: names, regions, languages
    "GET /api/sessions": OPERATORS,
    "GET /api/unscheduled": OPERATORS,
    "GET /book/{cycle_id}/{signature}": only(PARTICIPANT),
    "POST /book/{cycle_id}/{signature}": only(PARTICIPANT),
    "POST /book/{cycle_id}/{signature}/cancel": only(PARTICIPANT),
    "POST /book/{cycle_id}/{signature}/new-link": only(PARTICIPANT),
    **{
        f"{method} {_FACILITATOR_PAGE}{rest}": only(FACILITATOR)
        for method, rest in (
            ("GET", ""),
            ("POST", "/sessions/{session_id}"),
            ("GET", "/sessions/{session_id}/reschedule"),
            ("POST", "/sessions/{session_id}/reschedule"),
            ("GET", "/availability"),
            ("POST", "/availability"),
            ("POST", "/slots/{slot_id}/remove"),
            ("GET", "/callouts/{callout_id}"),
            ("POST", "/callouts/{callout_id}"),
            ("POST", "/cpd/{event_id}"),
            ("GET", "/interest"),
            ("POST", "/interest"),
        )
    },
    **{
        f"{method} {_LEAD_PAGE}{rest}": only(LEAD)
        for method, rest in (
            ("GET", ""),
            ("GET", "/facilitators/new"),
            ("POST", "/facilitators/new"),
            ("GET", "/facilitators/{facilitator_id}"),
            ("POST", "/facilitators/{facilitator_id}"),
            ("GET", "/callouts/new"),
            ("POST", "/callouts/new"),
            ("GET", "/callouts/{callout_id}"),
            ("GET", "/cpd/new"),
            ("POST", "/cpd/new"),
            ("GET", "/cpd/{event_id}"),
            ("POST", "/cpd/{event_id}"),
        )
    },
}

_ENTRY = "/observations/entries/{entry}"
OBSERVATIONS = {
    **COMMON,
    "GET /observations": EVERYONE,  # the start page (a signed-in browser is sent on to its journal)
    "GET /observations/sign-in": EVERYONE,
    "POST /observations/sign-in": EVERYONE,  # asks for a one-time link by email (limited per client and mailbox)
    # the one-time link's holder: opening it uses nothing; the POST signs in or creates the account
    "GET /observations/sign-in/{token}": only(OBSERVER),
    "POST /observations/sign-in/{token}": only(OBSERVER),
    "POST /observations/sign-out": EVERYONE,  # forgets the browser's cookie, whoever it was
    # a signed-in account's own journal (no cookie, or a forged or expired one: 401)
    "GET /observations/entries": only(OBSERVER, OTHER_OBSERVER),
    "GET /observations/entries/new": only(OBSERVER, OTHER_OBSERVER),
    "POST /observations/entries/new": only(OBSERVER, OTHER_OBSERVER),
    # one entry: its account's only (another account's is "not found", 404)
    f"GET {_ENTRY}": only(OBSERVER),
    f"GET {_ENTRY}/edit": only(OBSERVER),
    f"POST {_ENTRY}/edit": only(OBSERVER),
    f"GET {_ENTRY}/delete": only(OBSERVER),
    f"POST {_ENTRY}/delete": only(OBSERVER),  # an empty form deletes nothing: it asks again (400)
}

MATRIX: dict[str, dict[str, frozenset[str]]] = {
    "invitations": INVITATIONS,
    "ratings": RATINGS,
    "reports": REPORTS,
    "scheduling": SCHEDULING,
    "observations": OBSERVATIONS,
}


def cases() -> list[tuple[str, str, str, str, bool]]:
    """(service, method, path, caller, allowed) for every route and every caller."""
    found = []
    for service, routes in MATRIX.items():
        for route, allowed in routes.items():
            method, path = route.split(" ", 1)
            found += [(service, method, path, caller, caller in allowed) for caller in CALLERS]
    return found
