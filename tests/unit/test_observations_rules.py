"""The observations service's pure rules and form parsing: email normalisation, the profile and
observation forms (every problem found, each tied to its field), one-time link states, the list's
filter and the signed session cookie."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from observations import domain, forms, links
from observations.domain import Entry, FieldError, LinkState, Profile, Shown, Status, Whose
from shared.contracts.vocabulary import Dimension
from shared.links import SigningKeys
from shared.questionnaire import Level

TODAY = date(2026, 3, 27)
KEYS = SigningKeys(current=b"k" * 40)
NOW = datetime(2026, 3, 27, 12, tzinfo=UTC)


def form(**changes: str) -> dict[str, str]:
    values = {
        "observed_on-day": "3",
        "observed_on-month": "2",
        "observed_on-year": "2026",
        "context": "Handover\r\non the ward",
        "whose": "colleague",
        "level-engaging_the_team": "strong",
        "what_happened": "  They asked the quietest person first.  ",
        "impact": "",
    }
    return values | changes


def fields(errors: tuple[FieldError, ...]) -> list[str]:
    return [error.field for error in errors]


def test_an_address_is_normalised_and_checked() -> None:
    assert domain.normalise_email("  Jo.Smith@NHS.Net ") == "jo.smith@nhs.net"
    assert domain.normalise_email("\uff4a\uff4f@nhs.net") == "jo@nhs.net"
    assert forms.email_problem("jo@nhs.net") is None
    for bad in ("", "jo", "jo@", "a@b\nBcc: x@y.nhs.uk", "x" * 300 + "@nhs.net"):
        assert forms.email_problem(bad) is not None, bad


def test_a_profile_needs_a_one_line_name_and_the_programme_is_optional() -> None:
    assert forms.parse_profile({"display_name": " Sam ", "programme": ""}) == Profile("Sam", None)
    assert forms.parse_profile({"display_name": "Sam", "programme": "Mary Seacole"}) == Profile("Sam", "Mary Seacole")
    errors = forms.parse_profile({"display_name": "", "programme": "x\u202e" * 2})
    assert isinstance(errors, tuple) and fields(errors) == ["display_name", "programme"]
    assert isinstance(forms.parse_profile({"display_name": "a" * 101}), tuple)


def test_a_link_works_once_and_until_it_expires() -> None:
    later = NOW + timedelta(minutes=30)
    assert domain.link_expiry(NOW, minutes=30) == later
    assert domain.link_state(expires_at=later, used_at=None, now=NOW) is LinkState.USABLE
    assert domain.link_state(expires_at=later, used_at=None, now=later) is LinkState.EXPIRED
    assert domain.link_state(expires_at=later, used_at=NOW, now=NOW) is LinkState.USED


def test_a_complete_observation_is_parsed_into_typed_values() -> None:
    parsed = forms.parse_entry(form(), ["engaging_the_team"], today=TODAY)
    assert parsed.errors == () and not parsed.unstorable
    assert parsed.entry == Entry(
        observed_on=date(2026, 2, 3),
        context="Handover\non the ward",
        whose=Whose.COLLEAGUE,
        shown=(Shown(Dimension.ENGAGING_THE_TEAM, Level.STRONG),),
        what_happened="They asked the quietest person first.",
        impact="",
    )


def test_every_problem_is_found_and_tied_to_its_field() -> None:
    bad = form(**{"observed_on-day": "30", "observed_on-month": "2", "whose": "boss", "what_happened": " "})
    parsed = forms.parse_entry(bad, ["engaging_the_team", "holding_to_account"], today=TODAY)
    assert fields(parsed.errors) == ["observed_on-day", "whose-1", "level-holding_to_account-1", "what_happened"]
    assert not parsed.unstorable, "an incomplete observation may still be kept as a draft"
    assert fields(forms.parse_entry(form(), [], today=TODAY).errors) == ["dimensions-1"]


@pytest.mark.parametrize(
    ("day", "month", "year", "message"),
    [
        ("", "", "", "Enter the date you saw it"),
        ("x", "2", "2026", "real date"),
        ("28", "3", "2026", "today or in the past"),
        ("1", "1", "2015", "within the last 10 years"),
    ],
)
def test_the_date_must_be_real_and_not_in_the_future(day: str, month: str, year: str, message: str) -> None:
    changed = form(**{"observed_on-day": day, "observed_on-month": month, "observed_on-year": year})
    [error] = forms.parse_entry(changed, ["engaging_the_team"], today=TODAY).errors
    assert error.field == "observed_on-day" and message in error.message
    assert forms.parse_entry(changed, ["engaging_the_team"], today=TODAY).entry.observed_on is None


def test_text_too_long_or_with_control_characters_cannot_even_be_a_draft() -> None:
    for changes in ({"context": "x" * (domain.MAX_CONTEXT + 1)}, {"impact": "a\x00b"}):
        parsed = forms.parse_entry(form(**changes), ["engaging_the_team"], today=TODAY)
        assert parsed.unstorable and len(parsed.errors) == 1


def test_an_entry_goes_back_into_the_form_as_it_was() -> None:
    parsed = forms.parse_entry(form(), ["engaging_the_team"], today=TODAY)
    values = forms.form_values(parsed.entry)
    again = forms.parse_entry(values, [s.dimension.value for s in parsed.entry.shown], today=TODAY)
    assert again.entry == parsed.entry
    assert forms.form_values(Entry())["whose"] == "" and Status.DRAFT.value == "draft"


def test_the_filter_reads_what_it_can_and_reports_the_rest() -> None:
    only, errors = forms.parse_filter({"dimension": "leading_with_care", "from": "2026-01-01", "to": "2026-02-01"})
    assert errors == ()
    assert (only.dimension, only.date_from, only.date_to) == (
        Dimension.LEADING_WITH_CARE,
        date(2026, 1, 1),
        date(2026, 2, 1),
    )
    only, errors = forms.parse_filter({"dimension": "x", "from": "soon", "to": ""})
    assert only == domain.Filter() and fields(errors) == ["dimension", "from"]
    only, errors = forms.parse_filter({"from": "2026-03-01", "to": "2026-01-01"})
    assert only.date_to is None and fields(errors) == ["to"]


def test_the_session_cookie_names_the_account_only_while_signed_and_in_date() -> None:
    account = uuid4()
    cookie = links.issue(KEYS, account, now=NOW, lifetime=timedelta(hours=1))
    assert links.account_of(KEYS, cookie, now=NOW) == account
    assert links.account_of(KEYS, cookie, now=NOW + timedelta(hours=1)) is None
    assert links.account_of(SigningKeys(current=b"o" * 40), cookie, now=NOW) is None
    other = uuid4()
    assert links.account_of(KEYS, f"{other}.{cookie.partition('.')[2]}", now=NOW) is None
    for junk in (None, "", "x", "not-a-uuid.123.abc", cookie + "x" * 300, cookie.upper()):
        assert links.account_of(KEYS, junk, now=NOW) is None


def test_a_link_token_is_the_same_for_the_same_link_and_differs_between_links() -> None:
    link = uuid4()
    assert links.link_token(KEYS, link) == links.link_token(KEYS, link)
    assert links.link_token(KEYS, link) != links.link_token(KEYS, uuid4())
