"""Availability: weekday slots at London wall-clock times, right across the clock changes; demo data."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduling import demo_seed
from scheduling.domain import FacilitatorStatus, weekday_slots
from scheduling.forms import RegionalLeadInput, parse_regional_lead

LONDON = ZoneInfo("Europe/London")
TWO_HOURS = timedelta(hours=2)


def slots(first_day: date, days: int) -> list[tuple[datetime, datetime]]:
    return weekday_slots(
        first_day=first_day, days=days, local_times=[time(14), time(10)], duration=TWO_HOURS, tz=LONDON
    )


def test_ten_oclock_london_moves_in_utc_when_the_clocks_go_forward_in_march() -> None:
    # British Summer Time starts on Sunday 28 March 2027.
    starts = [start for start, _ in slots(date(2027, 3, 26), 4)]
    assert starts == [
        datetime(2027, 3, 26, 10, tzinfo=UTC),  # Friday, GMT
        datetime(2027, 3, 26, 14, tzinfo=UTC),
        datetime(2027, 3, 29, 9, tzinfo=UTC),  # Monday, BST = UTC+1
        datetime(2027, 3, 29, 13, tzinfo=UTC),
    ]


def test_ten_oclock_london_moves_back_when_the_clocks_go_back_in_october() -> None:
    # British Summer Time ends on Sunday 31 October 2027.
    starts = [start for start, _ in slots(date(2027, 10, 29), 4)]
    assert starts == [
        datetime(2027, 10, 29, 9, tzinfo=UTC),  # Friday, BST
        datetime(2027, 10, 29, 13, tzinfo=UTC),
        datetime(2027, 11, 1, 10, tzinfo=UTC),  # Monday, GMT
        datetime(2027, 11, 1, 14, tzinfo=UTC),
    ]


def test_slots_are_two_hours_on_weekdays_only_and_always_at_local_ten_and_two() -> None:
    generated = slots(date(2027, 3, 1), 56)
    assert len(generated) == 40 * 2  # eight weeks of weekdays, two slots a day
    for start, end in generated:
        local = start.astimezone(LONDON)
        assert start.tzinfo is UTC
        assert end - start == TWO_HOURS
        assert local.weekday() < 5
        assert (local.hour, local.minute) in {(10, 0), (14, 0)}


def test_demo_facilitators_are_the_ids_the_availability_job_serves() -> None:
    seeded = demo_seed.FACILITATORS
    assert [f["id"] for f in seeded] == list(demo_seed.FACILITATOR_IDS)
    assert len({f["region"] for f in seeded}) == len(seeded)
    assert len({f["organisation"] for f in seeded}) == len(seeded)
    statuses = [f["status"] for f in seeded]
    assert statuses.count(FacilitatorStatus.LAPSED.value) == 1
    assert statuses.count(FacilitatorStatus.ACTIVE.value) == 3
    assert all(f["elearning_score"] >= 80 and f["course_completed_on"] for f in seeded)
    # Room for repeated demo and end-to-end runs on one machine.
    assert [f["monthly_capacity"] for f in seeded if f["status"] == FacilitatorStatus.ACTIVE.value] == [40, 40, 40]


def test_demo_regional_leads_one_per_region_by_the_rules_for_managed_leads() -> None:
    leads = demo_seed.REGIONAL_LEADS
    regions = [region for _, region, _, _ in leads]
    assert len(regions) == len(set(regions)) == 7
    assert len({lead_id for lead_id, _, _, _ in leads}) == 7
    assert {f["region"] for f in demo_seed.FACILITATORS} <= set(regions)
    for _, region, name, email in leads:
        parsed = parse_regional_lead({"region": region, "name": name, "email": email})
        assert parsed == RegionalLeadInput(region=region, name=name, email=email)
