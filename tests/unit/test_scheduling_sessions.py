"""Pure rules added for booking by the participant: local times across clock changes, signed links,
conflicts by email domain, language, what a session may become, reminders and escalation."""

from datetime import UTC, date, datetime, time, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest

from scheduling.config import Settings
from scheduling.domain import (
    Facilitator,
    FacilitatorStatus,
    FreeSlot,
    MatchRequest,
    SessionStatus,
    check_can_change,
    check_can_confirm,
    check_can_record_outcome,
    email_domain,
    escalation_due,
    has_conflict_of_interest,
    keeps_bookings,
    lead_for_region,
    local_to_utc,
    offer,
    ranked_facilitators,
    reminder_due,
    weekly_starts,
)
from scheduling.links import LinkPurpose, Links
from shared.errors import Rejected
from shared.links import Freshness, SigningKeys

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2027, 6, 1, 9, tzinfo=UTC)


def facilitator(
    *,
    organisation: str = "A Trust",
    region: str = "London",
    email: str = "x@a.nhs.uk",
    languages: tuple[str, ...] = ("en",),
) -> Facilitator:
    return Facilitator(
        id=uuid4(),
        region=region,
        organisation=organisation,
        status=FacilitatorStatus.ACTIVE,
        elearning_score=90,
        course_completed_on=date(2024, 1, 1),
        monthly_capacity=8,
        email_domain=email_domain(email),
        languages=languages,
    )


# --- time zones ------------------------------------------------------------------------------------


def test_a_weekly_time_keeps_its_wall_clock_across_the_clocks_going_back() -> None:
    # The clocks go back on Sunday 31 October 2027: 10:00 is 09:00 UTC before, 10:00 UTC after.
    starts = weekly_starts(date(2027, 10, 25), time(10), weeks=2, tz=LONDON)
    assert starts == [datetime(2027, 10, 25, 9, tzinfo=UTC), datetime(2027, 11, 1, 10, tzinfo=UTC)]


def test_a_time_the_clocks_skip_is_refused() -> None:
    with pytest.raises(Rejected, match=r"does not exist.*clocks go forward"):
        local_to_utc(date(2027, 3, 28), time(1, 30), tz=LONDON)


def test_a_time_that_happens_twice_is_refused() -> None:
    with pytest.raises(Rejected, match="happens twice"):
        local_to_utc(date(2027, 10, 31), time(1, 30), tz=LONDON)
    assert local_to_utc(date(2027, 10, 31), time(2, 30), tz=LONDON) == datetime(2027, 10, 31, 2, 30, tzinfo=UTC)


# --- signed links ----------------------------------------------------------------------------------


def test_links_are_signed_per_purpose_and_subject() -> None:
    codec, subject = Links(keys=SigningKeys(b"k" * 32), base_url="https://s.example"), uuid4()
    signature = codec.signature(LinkPurpose.LEAD, subject)
    assert len(signature) == 43
    assert codec.path(LinkPurpose.LEAD, subject) == f"/lead/{subject}/{signature}"
    assert codec.url(LinkPurpose.LEAD, subject) == f"https://s.example/lead/{subject}/{signature}"
    assert codec.is_valid(LinkPurpose.LEAD, subject, signature)
    assert not codec.is_valid(LinkPurpose.FACILITATOR, subject, signature)
    assert not codec.is_valid(LinkPurpose.LEAD, uuid4(), signature)
    other = Links(keys=SigningKeys(b"j" * 32), base_url="https://s.example")
    assert not other.is_valid(LinkPurpose.LEAD, subject, signature)


def test_booking_links_expire_and_are_made_only_with_an_expiry() -> None:
    now = datetime(2027, 1, 1, 9, tzinfo=UTC)
    codec = Links(keys=SigningKeys(b"k" * 32), base_url="https://s.example/", booking_lifetime=timedelta(days=60))
    subject = uuid4()
    url = codec.booking_url(subject, now=now)
    expires = int((now + timedelta(days=60)).timestamp())
    assert url.startswith(f"https://s.example/book/{subject}/{expires}.")
    token = url.rsplit("/", 1)[1]
    assert token == codec.booking_token(subject, expires_at=now + timedelta(days=60))
    assert codec.booking_freshness(subject, token, now=now) is Freshness.VALID
    assert codec.booking_freshness(subject, token, now=now + timedelta(days=60)) is Freshness.EXPIRED
    assert codec.booking_freshness(uuid4(), token, now=now) is Freshness.NOT_RECOGNISED
    assert not codec.is_valid(LinkPurpose.BOOKING, subject, token.partition(".")[2])
    with pytest.raises(ValueError):
        codec.signature(LinkPurpose.BOOKING, subject)


def test_a_renewed_link_version_signs_differently_and_version_1_is_the_default() -> None:
    codec, subject = Links(keys=SigningKeys(b"k" * 32), base_url=""), uuid4()
    first = codec.signature(LinkPurpose.FACILITATOR, subject)
    assert first == codec.signature(LinkPurpose.FACILITATOR, subject, version=1)
    renewed = codec.signature(LinkPurpose.FACILITATOR, subject, version=2)
    assert renewed != first
    assert codec.is_valid(LinkPurpose.FACILITATOR, subject, renewed, version=2)
    for version in (1, 3):
        assert not codec.is_valid(LinkPurpose.FACILITATOR, subject, renewed, version=version)
    assert not codec.is_valid(LinkPurpose.FACILITATOR, subject, first, version=2)


def test_a_link_signed_with_a_previous_secret_still_opens_until_that_secret_is_removed() -> None:
    subject, old, new = uuid4(), b"o" * 32, b"n" * 32
    sent = Links(keys=SigningKeys(old), base_url="").signature(LinkPurpose.LEAD, subject)
    rotated = Links(keys=SigningKeys(new, previous=(old,)), base_url="")
    assert rotated.is_valid(LinkPurpose.LEAD, subject, sent)
    assert rotated.signature(LinkPurpose.LEAD, subject) != sent  # new links: the new secret
    assert not Links(keys=SigningKeys(new), base_url="").is_valid(LinkPurpose.LEAD, subject, sent)


# --- matching --------------------------------------------------------------------------------------


def test_the_same_email_domain_is_a_conflict_when_that_rule_is_on() -> None:
    f = facilitator(organisation="Thameside NHS FT", email="a.b@thameside.nhs.uk")
    assert has_conflict_of_interest(
        f,
        participant_organisation="Thameside Hospitals",
        participant_email_domain="THAMESIDE.nhs.uk",
        rules=("email_domain",),
    )
    assert not has_conflict_of_interest(
        f,
        participant_organisation="Thameside Hospitals",
        participant_email_domain="thameside.nhs.uk",
        rules=("organisation",),
    )


def test_language_filters_matches_but_not_an_explicit_choice() -> None:
    english, tamil = facilitator(organisation="B"), facilitator(organisation="C", languages=("en", "ta"))
    request = MatchRequest(organisation="Z", region="London", language="ta")
    assert [f for _, f in ranked_facilitators([english, tamil], request=request)] == [tamil]
    chosen = MatchRequest(organisation="Z", region="London", language="ta", chosen_facilitator_id=english.id)
    assert ranked_facilitators([english], request=chosen) == [(0, english)]


def test_offer_shows_only_the_chosen_facilitators_times_when_they_have_any() -> None:
    chosen, other = facilitator(organisation="B"), facilitator(organisation="C")
    ranked = [(0, chosen), (1, other)]
    mine = FreeSlot(id=uuid4(), facilitator_id=chosen.id, starts_at=NOW, ends_at=NOW + timedelta(hours=2))
    theirs = FreeSlot(id=uuid4(), facilitator_id=other.id, starts_at=NOW, ends_at=NOW + timedelta(hours=2))
    assert offer([mine, theirs], ranked=ranked, limit=10) == [mine]
    assert offer([theirs], ranked=ranked, limit=10) == [theirs]
    assert offer([theirs] * 5, ranked=ranked, limit=3) == [theirs] * 3


def test_regional_lead_is_found_ignoring_case_and_spacing() -> None:
    lead = uuid4()
    assert lead_for_region("north  east and yorkshire", {"North East and Yorkshire": lead}) == lead
    assert lead_for_region("Wales", {"North East and Yorkshire": lead}) is None


# --- session lifecycle -----------------------------------------------------------------------------


def test_only_requested_sessions_are_confirmed() -> None:
    check_can_confirm(SessionStatus.REQUESTED)
    with pytest.raises(Rejected):
        check_can_confirm(SessionStatus.BOOKED)


def test_only_future_requested_or_booked_sessions_change() -> None:
    check_can_change(SessionStatus.BOOKED, starts_at=NOW + timedelta(hours=1), now=NOW)
    check_can_change(SessionStatus.REQUESTED, starts_at=NOW + timedelta(hours=1), now=NOW)
    for status in (SessionStatus.COMPLETED, SessionStatus.NO_SHOW, SessionStatus.CANCELLED):
        with pytest.raises(Rejected):
            check_can_change(status, starts_at=NOW + timedelta(hours=1), now=NOW)
    with pytest.raises(Rejected, match="already started"):
        check_can_change(SessionStatus.BOOKED, starts_at=NOW, now=NOW)


def test_outcome_is_recorded_for_booked_sessions_once_started() -> None:
    check_can_record_outcome(SessionStatus.BOOKED, starts_at=NOW, now=NOW)
    with pytest.raises(Rejected, match="once the session has started"):
        check_can_record_outcome(SessionStatus.BOOKED, starts_at=NOW + timedelta(minutes=1), now=NOW)
    with pytest.raises(Rejected):
        check_can_record_outcome(SessionStatus.REQUESTED, starts_at=NOW, now=NOW)


def test_which_status_keeps_bookings_is_configuration() -> None:
    assert keeps_bookings(FacilitatorStatus.LAPSED, lapsed_keeps=True, suspended_keeps=False)
    assert not keeps_bookings(FacilitatorStatus.LAPSED, lapsed_keeps=False, suspended_keeps=False)
    assert not keeps_bookings(FacilitatorStatus.SUSPENDED, lapsed_keeps=True, suspended_keeps=False)
    assert keeps_bookings(FacilitatorStatus.ACTIVE, lapsed_keeps=False, suspended_keeps=False)


def test_reminder_and_escalation_windows() -> None:
    starts = NOW + timedelta(hours=24)
    assert reminder_due(starts_at=starts, now=NOW, hours_before=24)
    assert not reminder_due(starts_at=starts, now=NOW - timedelta(minutes=1), hours_before=24)
    assert not reminder_due(starts_at=starts, now=starts, hours_before=24)
    assert escalation_due(requested_at=NOW - timedelta(days=7), now=NOW, after_days=7)
    assert not escalation_due(requested_at=NOW - timedelta(days=6, hours=23), now=NOW, after_days=7)


# --- settings ---------------------------------------------------------------------------------------


def test_requests_must_lapse_after_the_nearest_bookable_time_would_open() -> None:
    database = "postgresql+asyncpg://u:s3cret-pw@h/d"
    with pytest.raises(ValueError, match=r"confirm_before_start_hours \(24\) must be less than min_notice_hours"):
        Settings(
            database_url=database,
            link_secret="k" * 32,  # type: ignore[arg-type]
            booking_confirmation="facilitator",
            min_notice_hours=24,
            confirm_before_start_hours=24,
        )
    # Without confirmation nothing lapses, so any notice (0 in a test) is fine.
    Settings(
        database_url=database,
        link_secret="k" * 32,  # type: ignore[arg-type]
        booking_confirmation="automatic",
        min_notice_hours=0,
    )


def registered_jobs(*, seed_availability: bool) -> set[str]:
    from scheduling import jobs
    from shared.service import ServiceRuntime

    settings = Settings(
        database_url="postgresql+asyncpg://u:s3cret-pw@h/d",  # type: ignore[arg-type]
        link_secret="k" * 32,  # type: ignore[arg-type]
        seed_availability=seed_availability,
    )
    runtime = ServiceRuntime(settings)
    jobs.register(runtime, settings)
    return {name for name, _, _ in runtime._jobs}  # what start() will run


def test_every_scheduling_job_is_registered() -> None:
    registered = registered_jobs(seed_availability=True)  # the demo environment (deploy/local/stack.sh)
    assert registered == {
        "announce-facilitators",
        "ensure-availability",
        "retry-unscheduled",
        "send-emails",
        "send-reminders",
        "remind-unbooked",
        "chase-outcomes",
        "lapse-unconfirmed",
        "escalate-unbooked",
        "forget-expired-counts",
    }
    # Elsewhere the demo's diaries are not kept open (ADR 11).
    assert registered_jobs(seed_availability=False) == registered - {"ensure-availability"}
