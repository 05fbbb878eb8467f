"""Matching rules of the scheduling service: accreditation, conflict of interest, capacity, preference."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import get_args
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from pydantic import TypeAdapter, ValidationError

from scheduling.config import ConflictRule, Settings
from scheduling.domain import (
    ANY_LANGUAGE,
    CONFLICT_RULES,
    ELEARNING_PASS_MARK,
    Facilitator,
    FacilitatorStatus,
    FreeSlot,
    MatchRequest,
    booked_across_the_line,
    booking_options,
    can_facilitate,
    count_by_month,
    has_capacity,
    has_conflict_of_interest,
    in_management_line,
    is_accredited,
    month_bounds,
    month_key,
    ranked_facilitators,
    session_language,
)

LONDON = ZoneInfo("Europe/London")


def facilitator(
    *,
    region: str = "London",
    organisation: str = "Thameside NHS Foundation Trust",
    status: FacilitatorStatus = FacilitatorStatus.ACTIVE,
    score: int | None = 90,
    course: date | None = date(2024, 3, 1),
    capacity: int = 8,
    id: UUID | None = None,
    email: str | None = None,
    line_manager_email: str | None = None,
    languages: tuple[str, ...] = ("en",),
) -> Facilitator:
    return Facilitator(
        id=id or uuid4(),
        region=region,
        organisation=organisation,
        status=status,
        elearning_score=score,
        course_completed_on=course,
        monthly_capacity=capacity,
        email=email,
        line_manager_email=line_manager_email,
        languages=languages,
    )


def slot(owner: Facilitator, starts_at: datetime) -> FreeSlot:
    return FreeSlot(id=uuid4(), facilitator_id=owner.id, starts_at=starts_at, ends_at=starts_at + timedelta(hours=2))


# --- accreditation -------------------------------------------------------------------------------


def test_pass_mark_is_eighty_percent_inclusive() -> None:
    assert ELEARNING_PASS_MARK == 80
    assert is_accredited(facilitator(score=80))
    assert not is_accredited(facilitator(score=79))
    assert not is_accredited(facilitator(score=None))


def test_accreditation_needs_the_one_day_course_too() -> None:
    assert not is_accredited(facilitator(score=95, course=None))


def test_only_active_accredited_facilitators_can_facilitate() -> None:
    assert can_facilitate(facilitator())
    assert not can_facilitate(facilitator(status=FacilitatorStatus.LAPSED))
    assert not can_facilitate(facilitator(status=FacilitatorStatus.SUSPENDED))
    assert not can_facilitate(facilitator(score=60))


# --- conflict of interest ------------------------------------------------------------------------


def test_same_organisation_is_a_conflict_whatever_the_case_and_spacing() -> None:
    f = facilitator(organisation="Thameside NHS Foundation Trust")
    assert has_conflict_of_interest(f, participant_organisation="  thameside  NHS foundation trust ")
    assert not has_conflict_of_interest(f, participant_organisation="Pennine Valley NHS Trust")


def test_matching_excludes_the_participants_own_organisation() -> None:
    own = facilitator(organisation="Example Trust", region="London")
    other = facilitator(organisation="Other Trust", region="Midlands")
    ranked = ranked_facilitators([own, other], request=MatchRequest(organisation="example trust", region="London"))
    assert [f for _, f in ranked] == [other]


def test_matching_prefers_same_region_then_others_and_skips_ineligible() -> None:
    far = facilitator(region="Midlands", organisation="A")
    near = facilitator(region="london", organisation="B")
    lapsed = facilitator(region="London", organisation="C", status=FacilitatorStatus.LAPSED)
    ranked = ranked_facilitators([far, lapsed, near], request=MatchRequest(organisation="Z", region="London"))
    assert ranked == [(1, near), (2, far)]


def test_the_participants_choice_comes_first_when_active_and_accredited() -> None:
    chosen = facilitator(region="Midlands", organisation="A")
    near = facilitator(region="London", organisation="B")
    request = MatchRequest(organisation="Z", region="London", chosen_facilitator_id=chosen.id)
    assert ranked_facilitators([near, chosen], request=request)[0] == (0, chosen)


def test_a_lapsed_or_unaccredited_choice_falls_back_to_matching() -> None:
    lapsed = facilitator(region="London", organisation="A", status=FacilitatorStatus.LAPSED)
    failed = facilitator(region="London", organisation="B", score=70)
    near = facilitator(region="London", organisation="C")
    for chosen in (lapsed, failed):
        request = MatchRequest(organisation="Z", region="London", chosen_facilitator_id=chosen.id)
        assert ranked_facilitators([chosen, near], request=request) == [(1, near)]


# --- capacity ------------------------------------------------------------------------------------


def test_capacity_is_strictly_less_than_the_monthly_limit() -> None:
    assert has_capacity(booked_in_month=5, monthly_capacity=6)
    assert not has_capacity(booked_in_month=6, monthly_capacity=6)
    assert not has_capacity(booked_in_month=0, monthly_capacity=0)


def test_month_is_the_local_calendar_month() -> None:
    # 23:30 UTC on 31 May is 00:30 BST on 1 June.
    assert month_key(datetime(2027, 5, 31, 23, 30, tzinfo=UTC), tz=LONDON) == (2027, 6)
    assert month_key(datetime(2027, 1, 31, 23, 30, tzinfo=UTC), tz=LONDON) == (2027, 1)
    start, end = month_bounds((2027, 6), tz=LONDON)
    assert start == datetime(2027, 5, 31, 23, 0, tzinfo=UTC)
    assert end == datetime(2027, 6, 30, 23, 0, tzinfo=UTC)
    assert month_bounds((2027, 12), tz=LONDON)[1] == datetime(2028, 1, 1, tzinfo=UTC)


def test_a_full_month_skips_to_the_next_month_and_other_facilitators() -> None:
    busy = facilitator(region="London", organisation="A", capacity=2)
    spare = facilitator(region="Midlands", organisation="B")
    june = datetime(2027, 6, 14, 9, tzinfo=UTC)
    july = datetime(2027, 7, 5, 9, tzinfo=UTC)
    booked = count_by_month(
        [(busy.id, datetime(2027, 6, 1, 9, tzinfo=UTC)), (busy.id, datetime(2027, 6, 2, 9, tzinfo=UTC))], tz=LONDON
    )
    busy_june, busy_july, spare_june = slot(busy, june), slot(busy, july), slot(spare, june)
    ranked = ranked_facilitators([busy, spare], request=MatchRequest(organisation="Z", region="London"))
    options = booking_options(
        ranked=ranked,
        free_slots=[busy_june, busy_july, spare_june],
        booked=booked,
        not_before=datetime(2027, 6, 1, tzinfo=UTC),
        tz=LONDON,
    )
    assert options == [busy_july, spare_june]


def test_options_respect_minimum_notice_and_order_by_preference_then_time() -> None:
    near = facilitator(region="London", organisation="A")
    far = facilitator(region="Midlands", organisation="B")
    now = datetime(2027, 6, 1, 9, tzinfo=UTC)
    too_soon = slot(near, now + timedelta(hours=47))
    near_late = slot(near, now + timedelta(days=10))
    near_early = slot(near, now + timedelta(days=3))
    far_earliest = slot(far, now + timedelta(days=2, hours=1))
    ranked = ranked_facilitators([near, far], request=MatchRequest(organisation="Z", region="London"))
    options = booking_options(
        ranked=ranked,
        free_slots=[near_late, far_earliest, too_soon, near_early],
        booked={},
        not_before=now + timedelta(hours=48),
        tz=LONDON,
    )
    assert options == [near_early, near_late, far_earliest]


def test_slots_of_unmatched_facilitators_are_never_offered() -> None:
    own_org = facilitator(region="London", organisation="Z")
    ranked = ranked_facilitators([own_org], request=MatchRequest(organisation="Z", region="London"))
    options = booking_options(
        ranked=ranked,
        free_slots=[slot(own_org, datetime(2027, 6, 10, 9, tzinfo=UTC))],
        booked={},
        not_before=datetime(2027, 6, 1, tzinfo=UTC),
        tz=LONDON,
    )
    assert options == []


def test_whether_conflicts_overrule_the_participants_own_choice_is_configuration() -> None:
    chosen = facilitator(region="London", organisation="Z")
    honoured = MatchRequest(
        organisation="Z", region="London", chosen_facilitator_id=chosen.id, conflicts_apply_to_choice=False
    )
    assert ranked_facilitators([chosen], request=honoured) == [(0, chosen)]
    strict = MatchRequest(
        organisation="Z", region="London", chosen_facilitator_id=chosen.id, conflicts_apply_to_choice=True
    )
    assert ranked_facilitators([chosen], request=strict) == []


# --- conflict of interest: the participant's management line ---------------------------------------

PARTICIPANT = "amara.okafor@participant.example.nhs.uk"
MANAGER = "jo.bloggs@participant.example.nhs.uk"
DIRECTOR = "sam.director@participant.example.nhs.uk"
LINE = frozenset({MANAGER, DIRECTOR})


def line_conflict(
    f: Facilitator,
    *,
    rules: tuple[str, ...] = ("line",),
    participant_email: str | None = PARTICIPANT,
    management_line: frozenset[str] = LINE,
) -> bool:
    return has_conflict_of_interest(
        f,
        participant_organisation="Elsewhere Trust",
        participant_email=participant_email,
        management_line=management_line,
        rules=rules,
    )


def test_a_facilitator_in_the_participants_management_line_is_a_conflict_ignoring_case() -> None:
    assert line_conflict(facilitator(email=MANAGER))
    assert line_conflict(facilitator(email=" Sam.Director@PARTICIPANT.example.nhs.uk "))
    assert line_conflict(facilitator(email=DIRECTOR), management_line=frozenset({DIRECTOR.upper()}))


def test_a_facilitator_managed_by_the_participant_is_a_conflict_ignoring_case() -> None:
    assert line_conflict(facilitator(email="report@other.example.nhs.uk", line_manager_email=PARTICIPANT.upper()))
    assert line_conflict(
        facilitator(email="report@other.example.nhs.uk", line_manager_email=PARTICIPANT),
        participant_email=f"  {PARTICIPANT.title()}",
        management_line=frozenset(),
    )


def test_the_participant_never_facilitates_their_own_session() -> None:
    assert line_conflict(facilitator(email=PARTICIPANT.upper()), management_line=frozenset())


def test_no_line_conflict_for_unrelated_or_unknown_people() -> None:
    stranger = facilitator(email="stranger@elsewhere.example.nhs.uk", line_manager_email="boss@elsewhere.nhs.uk")
    assert not line_conflict(stranger)
    # Nothing known on either side is never a match (two missing emails are not "the same person").
    assert not line_conflict(facilitator(), participant_email=None, management_line=frozenset())
    assert not line_conflict(facilitator(line_manager_email=MANAGER), participant_email=None)
    assert not line_conflict(facilitator(email=""), participant_email="", management_line=frozenset({""}))
    # The participant's manager managing the facilitator too is not, by itself, a conflict.
    assert not line_conflict(facilitator(email="peer@participant.example.nhs.uk", line_manager_email=MANAGER))


def test_the_line_rule_can_be_switched_off() -> None:
    for related in (
        facilitator(email=MANAGER),
        facilitator(email="r@x.nhs.uk", line_manager_email=PARTICIPANT),
        facilitator(email=PARTICIPANT),
    ):
        assert in_management_line(related, participant_email=PARTICIPANT, management_line=LINE)
        assert line_conflict(related, rules=CONFLICT_RULES)
        assert not line_conflict(related, rules=("organisation", "email_domain"))
        assert not line_conflict(related, rules=())


def test_a_booked_facilitator_now_in_the_line_is_flagged_as_matching_would_judge_them() -> None:
    manager = facilitator(organisation="A", email=MANAGER)
    grown = MatchRequest(
        organisation="Z", region="London", participant_email=PARTICIPANT, management_line=frozenset({MANAGER.upper()})
    )
    assert booked_across_the_line(manager, request=grown)
    assert not booked_across_the_line(manager, request=replace(grown, management_line=frozenset({DIRECTOR})))
    assert not booked_across_the_line(manager, request=replace(grown, conflict_rules=frozenset({"organisation"})))
    # The participant's own choice: held to the line only when choices are held to the rules.
    chosen = replace(grown, chosen_facilitator_id=manager.id)
    assert not booked_across_the_line(manager, request=chosen)
    assert booked_across_the_line(manager, request=replace(chosen, conflicts_apply_to_choice=True))
    # Only the line: the other rules' facts do not change after booking.
    assert not booked_across_the_line(facilitator(organisation="Z", email="x@elsewhere.nhs.uk"), request=grown)


def test_matching_never_offers_the_participants_management_line_even_when_chosen() -> None:
    manager = facilitator(organisation="A", email=MANAGER)
    report = facilitator(organisation="B", email="report@b.example.nhs.uk", line_manager_email=PARTICIPANT)
    other = facilitator(organisation="C", email="other@c.example.nhs.uk")
    for chosen in (manager, report):
        strict = MatchRequest(
            organisation="Z",
            region="London",
            chosen_facilitator_id=chosen.id,
            participant_email=PARTICIPANT,
            management_line=LINE,
            conflicts_apply_to_choice=True,
        )
        assert ranked_facilitators([manager, report, other], request=strict) == [(1, other)]
        honoured = MatchRequest(
            organisation="Z",
            region="London",
            chosen_facilitator_id=chosen.id,
            participant_email=PARTICIPANT,
            management_line=LINE,
            conflicts_apply_to_choice=False,
        )
        assert ranked_facilitators([manager, report, other], request=honoured) == [(0, chosen), (1, other)]
    switched_off = MatchRequest(
        organisation="Z",
        region="London",
        participant_email=PARTICIPANT,
        management_line=LINE,
        conflict_rules=frozenset({"organisation", "email_domain"}),
    )
    assert {f.id for _, f in ranked_facilitators([manager, report, other], request=switched_off)} == {
        manager.id,
        report.id,
        other.id,
    }


def test_the_line_rule_is_on_by_default_and_the_setting_accepts_every_rule() -> None:
    assert MatchRequest(organisation="Z", region="London").conflict_rules == frozenset(CONFLICT_RULES)
    assert set(get_args(ConflictRule)) == set(CONFLICT_RULES) == {"organisation", "email_domain", "line"}
    assert Settings.model_fields["conflict_rules"].default == ("organisation", "email_domain", "line")
    rules = TypeAdapter(tuple[ConflictRule, ...])
    assert rules.validate_python(["line"]) == ("line",)
    with pytest.raises(ValidationError):
        rules.validate_python(["line", "friendship"])


def test_emails_stay_out_of_the_matching_values_repr() -> None:
    shown = repr(facilitator(email=MANAGER, line_manager_email=PARTICIPANT)) + repr(
        MatchRequest(organisation="Z", region="London", participant_email=PARTICIPANT, management_line=LINE)
    )
    assert "@" not in shown


# --- language --------------------------------------------------------------------------------------


def test_the_page_language_wins_else_the_preferred_one_and_any_sets_it_aside() -> None:
    assert session_language("ta", preferred="cy") == "ta"
    assert session_language(None, preferred="cy") == "cy"
    assert session_language(ANY_LANGUAGE, preferred="cy") is None
    assert session_language(None, preferred=None) is None
    assert session_language("", preferred="") is None


def test_a_preferred_language_filters_matches_like_a_chosen_one() -> None:
    english, welsh = facilitator(organisation="B"), facilitator(organisation="C", languages=("en", "cy"))
    request = MatchRequest(organisation="Z", region="London", language=session_language(None, preferred="cy"))
    assert [f for _, f in ranked_facilitators([english, welsh], request=request)] == [welsh]
    nobody = MatchRequest(organisation="Z", region="London", language=session_language(None, preferred="bsl"))
    assert ranked_facilitators([english, welsh], request=nobody) == []
