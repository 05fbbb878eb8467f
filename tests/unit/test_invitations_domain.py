from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from invitations.domain import (
    FacilitatorState,
    NominationLimits,
    Nominee,
    check_funding,
    check_nominations,
    cohort_cycle_id,
    due_reminder_stages,
    extension_problem,
    fatigued,
    language_code,
    management_line,
    management_line_problems,
    not_choosable_because,
    price_with_vat,
    quote,
)
from invitations.forms import BadRow, CohortDefaults, row_to_request
from invitations.links import APPROVAL, PARTICIPANT, purpose_token, rater_token, token_freshness
from shared.contracts.vocabulary import FundingMethod, RaterGroup
from shared.errors import Rejected
from shared.links import Freshness, SigningKeys, key_id, token_sha256

LM = Nominee(group=RaterGroup.LINE_MANAGER, name="M", email="m@nhs.uk")
NOW = datetime(2027, 3, 1, 9, tzinfo=UTC)


def peers(*emails: str) -> list[Nominee]:
    return [Nominee(group=RaterGroup.PEER, name="P", email=e) for e in emails]


def reports(*emails: str) -> list[Nominee]:
    return [Nominee(group=RaterGroup.DIRECT_REPORT, name="R", email=e) for e in emails]


THREE = peers("a@nhs.uk", "b@nhs.uk", "c@nhs.uk")


def test_valid_nominations_pass() -> None:
    check_nominations(participant_email="me@nhs.uk", nominees=[LM, *THREE])
    check_nominations(
        participant_email="me@nhs.uk", nominees=[LM, *THREE, *reports("x@nhs.uk", "y@nhs.uk", "z@nhs.uk")]
    )


@pytest.mark.parametrize(
    ("nominees", "message"),
    [
        (
            [LM, *THREE, *peers("A@NHS.uk ")],
            "rater 5 is nominated more than once \\(same email address as rater 2, ignoring case and any \\+tag\\)",
        ),
        ([LM, *THREE, *peers("me@nhs.uk")], "rater 5 is the participant"),
        ([LM, *THREE, Nominee(RaterGroup.OTHER, "O", "a@nhs.uk")], "can only be in one group"),
        ([LM, *THREE, *peers("not-an-email")], "rater 5: enter a valid email address"),
        ([LM, *THREE, Nominee(RaterGroup.PEER, " ", "q@nhs.uk")], "rater 5: enter their name"),
        (THREE, r"exactly one line manager is needed \(got 0\)"),
        ([LM, Nominee(RaterGroup.LINE_MANAGER, "N", "n@nhs.uk"), *THREE], r"exactly one line manager .*got 2"),
        ([LM, *THREE[:2]], r"at least 3 peers are needed \(got 2\)"),
        ([LM, *THREE, *reports("x@nhs.uk")], r"at least 3 direct reports .*got 1"),
        ([LM, *THREE, Nominee(RaterGroup.SELF, "S", "s@nhs.uk")], "added automatically"),
    ],
)
def test_bad_nominations_are_refused_with_a_reason(nominees: list[Nominee], message: str) -> None:
    with pytest.raises(Rejected, match=message):
        check_nominations(participant_email="me@nhs.uk", nominees=nominees)


def test_limits_are_configuration_and_direct_reports_follow_the_answer() -> None:
    lax = NominationLimits(min_peers=1, min_direct_reports=1)
    check_nominations(participant_email="me@nhs.uk", nominees=[LM, *peers("a@nhs.uk")], limits=lax)
    with pytest.raises(Rejected, match="at least 1 direct reports"):
        check_nominations(participant_email="me@nhs.uk", nominees=[LM, *THREE], limits=lax, has_direct_reports=True)
    with pytest.raises(Rejected, match="nobody reports to you"):
        check_nominations(
            participant_email="me@nhs.uk", nominees=[LM, *THREE, *reports("x@nhs.uk")], has_direct_reports=False
        )


def test_reasons_never_contain_names_or_addresses() -> None:
    with pytest.raises(Rejected) as refused:
        check_nominations(
            participant_email="me@nhs.uk", nominees=[Nominee(RaterGroup.PEER, "Secret Name", "secret@nhs.uk")] * 2
        )
    assert "secret" not in str(refused.value).lower()


def test_price_is_exact_decimal_with_vat() -> None:
    assert price_with_vat(net=Decimal("40.00"), vat_rate=Decimal("0.20")) == Decimal("48.00")
    price = quote(net=Decimal("39.99"), vat_rate=Decimal("0.175"))
    assert (price.net, price.vat, price.total) == (Decimal("39.99"), Decimal("7.00"), Decimal("46.99"))


def test_funding_needs_a_sensible_reference() -> None:
    with pytest.raises(Rejected, match="purchase order number"):
        check_funding(method=FundingMethod.PURCHASE_ORDER, reference="  ")
    with pytest.raises(Rejected, match="must start with a letter or digit"):
        check_funding(method=FundingMethod.SELF_FUNDED, reference="<b>")
    check_funding(method=FundingMethod.PROGRAMME_CREDIT, reference="MSP-2027/C1")


@pytest.mark.parametrize(
    ("state", "why"),
    [
        (FacilitatorState(True, True, None, None), None),
        (FacilitatorState(True, True, "active", 2), None),
        (FacilitatorState(True, False, "active", 2), "is not accredited"),
        (FacilitatorState(False, True, "active", 2), "not on a regional register"),
        (FacilitatorState(True, True, "lapsed", 2), "is lapsed"),
        (FacilitatorState(True, True, "active", 0), None),  # free sessions change; shown, not refused
        (FacilitatorState(True, True, "suspended", 5), "is suspended"),
    ],
)
def test_which_facilitators_can_be_chosen(state: FacilitatorState, why: str | None) -> None:
    result = not_choosable_because(state)
    if why is None:
        assert result is None
    else:
        assert result is not None and why in result


def test_reminder_stages_come_due_once_the_time_has_come() -> None:
    deadline = NOW + timedelta(days=3)
    invited = NOW - timedelta(days=5)
    stages = (7, 2)
    gap = timedelta(hours=24)
    assert due_reminder_stages(deadline=deadline, invited_at=invited, now=NOW, stages_days=stages, min_gap=gap) == [7]
    later = NOW + timedelta(days=1, hours=12)
    assert due_reminder_stages(deadline=deadline, invited_at=invited, now=later, stages_days=stages, min_gap=gap) == [
        2,
        7,
    ]
    assert due_reminder_stages(deadline=deadline, invited_at=NOW, now=NOW, stages_days=stages, min_gap=gap) == []
    assert due_reminder_stages(deadline=NOW, invited_at=invited, now=NOW, stages_days=stages, min_gap=gap) == []


def test_deadline_extension_rules() -> None:
    current = NOW + timedelta(days=5)
    ok = extension_problem(
        current=current, requested=current + timedelta(days=3), original=current, now=NOW, max_extension_days=28
    )
    assert ok is None
    assert "later than" in str(
        extension_problem(
            current=current, requested=current - timedelta(days=1), original=current, now=NOW, max_extension_days=28
        )
    )
    assert "at most 28 days" in str(
        extension_problem(
            current=current, requested=current + timedelta(days=29), original=current, now=NOW, max_extension_days=28
        )
    )


def test_fatigue_is_more_than_the_threshold() -> None:
    assert not fatigued(open_requests_elsewhere=3, threshold=3)
    assert fatigued(open_requests_elsewhere=4, threshold=3)


def test_link_tokens_are_long_unique_and_only_their_hash_is_shared() -> None:
    a, b, keys = uuid4(), uuid4(), SigningKeys(b"k" * 32)
    token_a = rater_token(keys, a, None)
    assert token_a is not None
    assert len(token_a) >= 43 and token_a != rater_token(keys, b, None)
    assert token_a == rater_token(keys, a, keys.current_id)
    assert token_a != rater_token(SigningKeys(b"other" * 8), a, None)
    assert len(token_sha256(token_a)) == 64 and token_a not in token_sha256(token_a)


def test_a_rater_token_is_derived_with_its_recorded_key_while_that_key_is_configured() -> None:
    rater, old, new = uuid4(), b"o" * 32, b"n" * 32
    first = rater_token(SigningKeys(old), rater, key_id(old))
    assert rater_token(SigningKeys(new, previous=(old,)), rater, key_id(old)) == first
    assert rater_token(SigningKeys(new), rater, key_id(old)) is None  # retired: re-key
    assert rater_token(SigningKeys(new), rater, None) == rater_token(SigningKeys(new), rater, key_id(new)) != first


def test_participant_and_approval_tokens_are_separate_purposes() -> None:
    cycle, keys, now = uuid4(), SigningKeys(b"k" * 32), datetime(2027, 1, 1, tzinfo=UTC)
    mine = purpose_token(keys, PARTICIPANT, cycle, expires_at=now + timedelta(days=120))
    assert token_freshness(keys, PARTICIPANT, cycle, mine, now=now) is Freshness.VALID
    assert token_freshness(keys, APPROVAL, cycle, mine, now=now) is Freshness.NOT_RECOGNISED
    assert mine.partition(".")[2] != rater_token(keys, cycle, None)
    rotated = SigningKeys(b"n" * 32, previous=(b"k" * 32,))
    assert token_freshness(rotated, PARTICIPANT, cycle, mine, now=now) is Freshness.VALID
    assert token_freshness(SigningKeys(b"n" * 32), PARTICIPANT, cycle, mine, now=now) is Freshness.NOT_RECOGNISED


ROW = {
    "participant_id": "ESR-1",
    "given_name": "Ada",
    "family_name": "Lovelace",
    "email": "ada@example.nhs.uk",
    "organisation": "Trust",
    "region": "London",
    "line_manager_name": "Jo",
    "line_manager_email": "jo@example.nhs.uk",
    "peers": "Sam Patel <sam@example.nhs.uk>; Kim Lee <kim@example.nhs.uk>",
    "direct_reports": "",
    "others": "",
}
DEFAULTS = CohortDefaults(
    programme="MSP 1", deadline=date(2027, 3, 26), funding_method="programme_credit", funding_reference="MSP-1"
)


def test_cohort_rows_become_requests_with_deterministic_ids() -> None:
    first = row_to_request(ROW, defaults=DEFAULTS)
    again = row_to_request(dict(ROW), defaults=DEFAULTS)
    assert first.cycle_id == again.cycle_id == cohort_cycle_id(programme="msp 1", participant_id="esr-1")
    assert first.event_id == again.event_id
    assert [r.group.value for r in first.raters] == ["line_manager", "peer", "peer"]
    assert first.deadline == datetime(2027, 3, 26, 17, tzinfo=UTC)  # 5pm UK time (GMT in March)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"email": ""}, "missing email"),
        ({"peers": "Sam sam@example.nhs.uk"}, "peers entry 1 is not written as Name <email>"),
        ({"deadline": "26/03/2027"}, "deadline is not a date"),
        ({"line_manager_email": "jo@"}, "raters.0.email"),
    ],
)
def test_bad_cohort_rows_say_what_is_wrong(change: dict[str, str], reason: str) -> None:
    with pytest.raises(BadRow, match=reason):
        row_to_request({**ROW, **change}, defaults=DEFAULTS)


def lm(email: str) -> tuple[str, str]:
    return (RaterGroup.LINE_MANAGER.value, email)


def test_management_line_is_the_request_line_then_line_managers_casefolded_once_each_never_the_participant() -> None:
    line = management_line(
        participant_email="Ada@Example.NHS.uk",
        requested=["Director@Example.nhs.uk ", "jo@example.nhs.uk", "ada@example.nhs.uk", "DIRECTOR@example.nhs.uk"],
        nominated=[
            lm("JO@Example.nhs.uk"),
            (RaterGroup.PEER.value, "peer@example.nhs.uk"),
            lm("new.manager@Example.nhs.uk"),
            (RaterGroup.SELF.value, "ada@example.nhs.uk"),
        ],
    )
    assert line == ["director@example.nhs.uk", "jo@example.nhs.uk", "new.manager@example.nhs.uk"]
    assert management_line(participant_email="a@nhs.uk", requested=[], nominated=[lm("M@nhs.uk")]) == ["m@nhs.uk"]
    assert management_line(participant_email="a@nhs.uk", requested=[]) == []


def test_a_replacement_line_manager_joins_the_line_after_the_one_replaced_who_stays() -> None:
    requested = ["director@example.nhs.uk"]
    opened = management_line(
        participant_email="ada@example.nhs.uk",
        requested=requested,
        nominated=[lm("Jo@example.nhs.uk"), (RaterGroup.PEER, "p@example.nhs.uk")],
    )
    replaced = management_line(
        participant_email="ada@example.nhs.uk",
        requested=requested,
        nominated=[lm("Jo@example.nhs.uk"), (RaterGroup.PEER, "p@example.nhs.uk"), lm(" Kim@Example.nhs.uk ")],
    )
    assert opened == ["director@example.nhs.uk", "jo@example.nhs.uk"]
    assert replaced == ["director@example.nhs.uk", "jo@example.nhs.uk", "kim@example.nhs.uk"]
    # A replacement already in the requested line, or a peer replaced, changes nothing.
    for nominee in (lm("DIRECTOR@example.nhs.uk"), (RaterGroup.PEER.value, "new.peer@example.nhs.uk")):
        assert (
            management_line(
                participant_email="ada@example.nhs.uk",
                requested=requested,
                nominated=[lm("jo@example.nhs.uk"), nominee],
            )
            == opened
        )


def test_management_line_problems_point_at_the_entry_without_echoing_it() -> None:
    assert management_line_problems(participant_email="me@nhs.uk", emails=["boss@nhs.uk"]) == []
    problems = management_line_problems(participant_email="me@nhs.uk", emails=["boss@nhs.uk", "secret@", " ME@nhs.uk"])
    assert problems == ["entry 2 is not a valid email address", "entry 3 is the participant's own email address"]
    assert management_line_problems(participant_email="me@nhs.uk", emails=[f"b{i}@nhs.uk" for i in range(11)]) == [
        "has 11 email addresses; at most 10 can be given"
    ]


@pytest.mark.parametrize(
    ("text", "code"),
    [("cy", "cy"), (" BSL ", "bsl"), ("en", "en"), ("Welsh", None), ("e", None), ("en-GB", None), ("", None)],
)
def test_language_codes_are_iso_639_or_bsl(text: str, code: str | None) -> None:
    assert language_code(text) == code


def test_cohort_rows_may_give_the_management_line_and_language() -> None:
    row = {
        **ROW,
        "preferred_language": "CY",
        "management_line": "Director@Example.nhs.uk; Jo Bloggs <jo@example.nhs.uk>",
    }
    request = row_to_request(row, defaults=DEFAULTS)
    assert request.participant.preferred_language == "cy"
    assert [str(e) for e in request.participant.management_line] == ["Director@example.nhs.uk", "jo@example.nhs.uk"]
    old = row_to_request(ROW, defaults=DEFAULTS)  # a file without the new columns
    assert (old.participant.management_line, old.participant.preferred_language) == ([], None)
    blank = row_to_request({**ROW, "preferred_language": " ", "management_line": " ; "}, defaults=DEFAULTS)
    assert (blank.participant.management_line, blank.participant.preferred_language) == ([], None)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"preferred_language": "Welsh"}, "preferred_language is not a language code such as en, cy or bsl"),
        ({"management_line": "boss@example.nhs.uk; boss2@"}, "management_line entry 2 is not a valid email address"),
        ({"management_line": "ADA@example.nhs.uk"}, "management_line entry 1 is the participant's own email"),
        ({"management_line": ";".join(f"b{i}@example.nhs.uk" for i in range(11))}, "at most 10 can be given"),
    ],
)
def test_bad_management_line_or_language_in_a_cohort_row_says_what_is_wrong(
    change: dict[str, str], reason: str
) -> None:
    with pytest.raises(BadRow, match=reason) as refused:
        row_to_request({**ROW, **change}, defaults=DEFAULTS)
    assert "@" not in str(refused.value) and "boss" not in str(refused.value)


_addresses = st.sampled_from(["ada@x.nhs.uk", "Jo@x.nhs.uk", "jo@x.nhs.uk", "kim@y.nhs.uk", "d@x.nhs.uk", "p@z.nhs.uk"])
_nominations = st.lists(st.tuples(st.sampled_from([g.value for g in RaterGroup]), _addresses), max_size=12)


@settings(max_examples=300, deadline=None)
@given(requested=st.lists(_addresses, max_size=4), nominated=_nominations, later=_nominations)
def test_the_announced_line_only_grows_so_consumers_may_merge_lines_by_union(
    requested: list[str], nominated: list[tuple[str, str]], later: list[tuple[str, str]]
) -> None:
    """Scheduling keeps the union of every line it receives (ADR 0005): that is only right if a line
    announced later holds every address of an earlier one, in the same order."""
    before = management_line(participant_email="ada@x.nhs.uk", requested=requested, nominated=nominated)
    after = management_line(participant_email="ada@x.nhs.uk", requested=requested, nominated=[*nominated, *later])
    assert after[: len(before)] == before
