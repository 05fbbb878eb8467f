"""Raters are distinct people (issue 12): one mailbox per rater (case and +tags ignored), never the
participant, only at allowed domains; the fatigue hint says nothing about a named person."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from invitations.config import Settings
from invitations.domain import (
    NHS_EMAIL_DOMAINS,
    NominationLimits,
    NominationsRefused,
    Nominee,
    check_nominations,
    domain_allowed,
    domains_text,
    is_participant,
    mailbox_key,
    many_asked,
    nomination_problems,
)
from invitations.usecases.common import limits_of
from invitations.usecases.nominations import replacement_problems
from shared.contracts.vocabulary import RaterGroup

ME = "ada.okafor@trust.nhs.uk"
LM = Nominee(RaterGroup.LINE_MANAGER, "Jo", "jo.bloggs@trust.nhs.uk")
PEERS = [Nominee(RaterGroup.PEER, f"Peer {n}", f"peer.{n}@trust.nhs.uk") for n in (1, 2, 3)]
VALID = [LM, *PEERS]


def _settings() -> Settings:
    return Settings(database_url="postgresql://u:p4ss-w0rd@h/db", link_secret="x" * 40)  # type: ignore[call-arg]


@pytest.fixture(autouse=True)
def _no_domains_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("INVITATIONS_RATER_EMAIL_DOMAINS", "INVITATIONS_ORGANISATION_EMAIL_DOMAINS"):
        monkeypatch.delenv(name, raising=False)


_local = st.from_regex(r"[a-z][a-z0-9]{0,10}(\.[a-z0-9]{1,8})?", fullmatch=True)
_tag = st.from_regex(r"[a-z0-9_-]{0,12}", fullmatch=True)
_domain = st.sampled_from(["nhs.net", "nhs.uk", "trust.nhs.uk", "leeds.nhs.uk", "x.y.nhs.uk"])


def _variant(draw: st.DrawFn, local: str, domain: str) -> str:
    """Another way to write the same mailbox: any case per letter, maybe a +tag, maybe spaces."""
    tagged = local + (f"+{draw(_tag)}" if draw(st.booleans()) else "")
    cased = "".join(c.upper() if draw(st.booleans()) else c for c in f"{tagged}@{domain}")
    return cased if draw(st.booleans()) else f" {cased} "


@st.composite
def variants(draw: st.DrawFn) -> tuple[str, str]:
    local, domain = draw(_local), draw(_domain)
    return f"{local}@{domain}", _variant(draw, local, domain)


def _messages(nominees: list[Nominee], participant: str = ME, **limits: object) -> str:
    found = nomination_problems(
        participant_email=participant,
        nominees=nominees,
        limits=NominationLimits(**limits),  # type: ignore[arg-type]
    )
    return " | ".join(p.message for p in found)


def test_a_mailbox_key_ignores_case_and_the_tag_but_keeps_dots() -> None:
    assert mailbox_key(" Ada.Okafor+peer1@Trust.NHS.uk ") == "ada.okafor@trust.nhs.uk"
    assert mailbox_key("ada.okafor+a+b@nhs.net.") == "ada.okafor@nhs.net"
    assert mailbox_key("adaokafor@nhs.net") != mailbox_key("ada.okafor@nhs.net"), "NHS mail keeps dots"
    assert mailbox_key("\uff21\uff24\uff21@nhs.net") == "ada@nhs.net", (
        "full-width letters are the letters they look like"
    )


@settings(max_examples=300, deadline=None)
@given(pair=variants())
def test_any_case_or_tag_variant_of_a_rater_already_nominated_is_refused(pair: tuple[str, str]) -> None:
    first, again = pair
    nominees = [LM, *PEERS, Nominee(RaterGroup.OTHER, "A", first), Nominee(RaterGroup.OTHER, "B", again)]
    problems = nomination_problems(participant_email=ME, nominees=nominees, limits=NominationLimits())
    assert [(p.index, p.part) for p in problems] == [(5, "email")]
    assert "more than once (same email address as rater 5" in problems[0].message


@settings(max_examples=300, deadline=None)
@given(pair=variants(), group=st.sampled_from([RaterGroup.LINE_MANAGER, RaterGroup.PEER, RaterGroup.OTHER]))
def test_the_participants_own_address_in_any_variant_is_refused(pair: tuple[str, str], group: RaterGroup) -> None:
    participant, alias = pair
    nominees = [*VALID, Nominee(group, "Me again", alias)]
    problems = nomination_problems(participant_email=participant, nominees=nominees, limits=NominationLimits())
    assert any(p.index == 4 and "is the participant" in p.message for p in problems), problems
    assert is_participant(alias, participant)


@settings(max_examples=200, deadline=None)
@given(local=_local, domain=_domain, other=_domain)
def test_the_participants_name_at_another_nhs_domain_is_refused(local: str, domain: str, other: str) -> None:
    nominees = [*VALID, Nominee(RaterGroup.PEER, "Me elsewhere", f"{local}+x@{other}")]
    assert "rater 5 is the participant" in _messages(nominees, participant=f"{local}@{domain}")


def test_two_aliases_of_the_participant_among_the_peers_are_both_refused() -> None:
    """The attack: with two of three peers the participant's aliases, the third peer's answers show."""
    aliases = [
        Nominee(RaterGroup.PEER, "Friend", "Ada.Okafor+1@trust.nhs.uk"),
        Nominee(RaterGroup.PEER, "Other friend", "ada.okafor@nhs.net"),
        PEERS[0],
    ]
    problems = nomination_problems(participant_email=ME, nominees=[LM, *aliases], limits=NominationLimits())
    assert [p.index for p in problems if "is the participant" in p.message] == [1, 2]
    with pytest.raises(NominationsRefused) as refused:
        check_nominations(participant_email=ME, nominees=[LM, *aliases])
    assert "okafor" not in str(refused.value).lower() and "nhs.net" not in str(refused.value)


@pytest.mark.parametrize(
    "address",
    [
        "a.friend@gmail.com",
        "peer@nhs.uk.evil.example",
        "peer@evilnhs.uk",
        "peer@nhs.net.example.com",
        "peer@example.org",
        "peer@nhs.com",
    ],
)
def test_addresses_off_the_allow_list_are_refused_with_the_allowed_endings(address: str) -> None:
    messages = _messages([*VALID, Nominee(RaterGroup.PEER, "Off list", address)])
    assert "rater 5: use their work email address: it must end @nhs.net, @nhs.uk or .nhs.uk" in messages
    assert address.split("@")[1] not in messages, "the refusal never repeats what was typed"


@pytest.mark.parametrize("address", ["a@nhs.net", "a@NHS.UK", "a@trust.nhs.uk", "a@wales.nhs.uk", "a@x.y.nhs.uk"])
def test_nhs_addresses_are_on_the_default_allow_list(address: str) -> None:
    assert domain_allowed(address, NHS_EMAIL_DOMAINS)
    assert _messages([*VALID, Nominee(RaterGroup.PEER, "On list", address)]) == ""


@settings(max_examples=200, deadline=None)
@given(local=_local, domain=st.from_regex(r"[a-z]{1,10}\.(com|org|co\.uk|ac\.uk|net|uk)", fullmatch=True))
def test_any_domain_outside_nhs_is_refused_unless_configured(local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    assert domain_allowed(address, NHS_EMAIL_DOMAINS) is (domain in ("nhs.net", "nhs.uk"))
    assert domain_allowed(address, (*NHS_EMAIL_DOMAINS, domain))
    assert domain_allowed(f"{local}@sub.{domain}", ("*." + domain,))
    assert not domain_allowed(address, ("*." + domain,)), "*.x allows subdomains of x, not x itself"


def test_organisation_domains_are_configured_as_a_comma_list_next_to_the_nhs_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _settings().allowed_rater_domains() == NHS_EMAIL_DOMAINS
    monkeypatch.setenv("INVITATIONS_ORGANISATION_EMAIL_DOMAINS", " Leeds.ac.uk, *.leeds.ac.uk ")
    configured = _settings()
    assert configured.allowed_rater_domains() == (*NHS_EMAIL_DOMAINS, "leeds.ac.uk", "*.leeds.ac.uk")
    limits = limits_of(configured)
    nominees = [*VALID, Nominee(RaterGroup.OTHER, "Academic", "prof@med.leeds.ac.uk")]
    assert nomination_problems(participant_email=ME, nominees=nominees, limits=limits) == []
    assert "@leeds.ac.uk or .leeds.ac.uk" in domains_text(configured.allowed_rater_domains())
    for bad in ("*", "@", "localhost", "*.*.nhs.uk"):
        monkeypatch.setenv("INVITATIONS_RATER_EMAIL_DOMAINS", bad)
        with pytest.raises(ValidationError):
            _settings()


def test_no_allowed_domain_at_all_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVITATIONS_RATER_EMAIL_DOMAINS", "")
    with pytest.raises(ValidationError, match="raters need somewhere to be"):
        _settings()


def test_a_replacement_is_refused_off_the_allow_list_or_as_the_participant_on_the_email_field() -> None:
    settings = _settings()
    assert replacement_problems(name="Kim", email="kim@trust.nhs.uk", settings=settings, participant_email=ME) == []
    [(field, message)] = replacement_problems(
        name="Kim", email="kim@gmail.com", settings=settings, participant_email=ME
    )
    assert field == "email" and message.startswith("Use their work email address: it must end @nhs.net")
    [(field, message)] = replacement_problems(
        name="Me", email="ADA.OKAFOR+r@nhs.net", settings=settings, participant_email=ME
    )
    assert field == "email" and message.startswith("This is the participant")
    assert "okafor" not in message.lower()


@pytest.mark.parametrize(
    ("counts", "told"),
    [
        ([9, 0, 0, 0], False),  # one busy person: telling would say something about that one person
        ([4, 4, 0, 0], True),
        ([3, 3, 3], False),  # at the threshold is not more than it
        ([], False),
    ],
)
def test_the_fatigue_hint_needs_two_busy_people_and_says_neither_who_nor_how_many(
    counts: list[int], told: bool
) -> None:
    assert many_asked(counts, threshold=3, min_people=2) is told
    assert many_asked([9, 0], threshold=3, min_people=1) is False, "never fewer than two, whatever is configured"
