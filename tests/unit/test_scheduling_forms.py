"""Reading the scheduling pages' forms: typed values, or errors in page order with field ids."""

from datetime import date, time
from uuid import uuid4

from scheduling.domain import FacilitatorStatus
from scheduling.forms import (
    AvailabilityInput,
    CalloutInput,
    FacilitatorInput,
    RegionalLeadInput,
    parse_accreditation,
    parse_attendance,
    parse_availability,
    parse_callout,
    parse_cpd_event,
    parse_facilitator,
    parse_interest,
    parse_regional_lead,
    parse_status,
    parse_volunteer,
)

TODAY = date(2027, 1, 4)


def test_availability_needs_every_field_and_says_which() -> None:
    errors = parse_availability({}, today=TODAY)
    assert isinstance(errors, list)
    assert [field for field, _ in errors] == ["date-day", "start", "minutes-1", "mode-1", "weeks"]


def test_availability_in_person_needs_a_place_and_times_are_24_hour() -> None:
    values = {
        "date-day": "11",
        "date-month": "1",
        "date-year": "2027",
        "start": "25:00",
        "minutes": "120",
        "mode": "in_person",
        "weeks": "13",
    }
    errors = parse_availability(values, today=TODAY)
    assert isinstance(errors, list)
    assert dict(errors) == {
        "start": "The start time must be a 24-hour time, like 09:30 or 14:00",
        "location": "Enter where the session takes place",
        "weeks": "How many weeks to repeat it must be a whole number from 1 to 12",
    }


def test_availability_parses() -> None:
    values = {
        "date-day": "11",
        "date-month": "1",
        "date-year": "2027",
        "start": "9.30",
        "minutes": "90",
        "mode": "virtual",
        "location": "",
        "weeks": "4",
    }
    assert parse_availability(values, today=TODAY) == AvailabilityInput(
        first_day=date(2027, 1, 11), start=time(9, 30), minutes=90, mode="virtual", location=None, weeks=4
    )


def test_dates_must_be_real_and_in_the_future() -> None:
    def date_errors(values: dict[str, str]) -> list[tuple[str, str]]:
        parsed = parse_availability(values, today=TODAY)
        assert isinstance(parsed, list)
        return [error for error in parsed if error[0].startswith("date-")]

    assert date_errors({"date-day": "3", "date-month": "1", "date-year": "2027"}) == [
        ("date-day", "The date of the first session must be in the future")
    ]
    assert date_errors({"date-day": "31", "date-month": "2", "date-year": "2027"}) == [
        ("date-day", "The date of the first session must be a real date, like 14 1 2027")
    ]
    assert date_errors({"date-day": "31", "date-year": "2027"}) == [
        ("date-month", "The date of the first session must include a month")
    ]


def test_callout_period_must_be_in_order() -> None:
    values = {
        "title": "Mary Seacole apprenticeship cohort",
        "details": "Virtual sessions in January-February",
        "mode": "virtual",
        "start-day": "28",
        "start-month": "2",
        "start-year": "2027",
        "end-day": "1",
        "end-month": "2",
        "end-year": "2027",
        "participants": "15",
        "register-day": "5",
        "register-month": "1",
        "register-year": "2027",
    }
    assert parse_callout(values, today=TODAY) == [
        ("end-day", "The last day must be the same as or after the first day")
    ]
    values["start-day"] = "1"
    parsed = parse_callout(values, today=TODAY)
    assert isinstance(parsed, CalloutInput) and parsed.participants == 15 and parsed.register_by == date(2027, 1, 5)


def test_cpd_event_end_after_start() -> None:
    values = {
        "title": "CPD day",
        "date-day": "10",
        "date-month": "3",
        "date-year": "2027",
        "start": "16:00",
        "end": "09:00",
        "venue": "Online",
        "places": "30",
    }
    assert parse_cpd_event(values, today=TODAY) == [("end", "The end time must be after the start time")]


def test_facilitator_accreditation_is_optional_but_checked_if_given() -> None:
    values = {
        "name": "Sam Okoye",
        "email": "Sam.Okoye@example.nhs.uk",
        "organisation": "Example Trust",
        "capacity": "4",
    }
    parsed = parse_facilitator(values, ["en", "xx"], today=TODAY)
    assert isinstance(parsed, FacilitatorInput)
    assert parsed.email == "sam.okoye@example.nhs.uk" and parsed.languages == ["en"] and parsed.accreditation is None
    failing = {
        **values,
        "score": "79",
        "elearning-day": "1",
        "elearning-month": "12",
        "elearning-year": "2026",
        "course-day": "2",
        "course-month": "12",
        "course-year": "2026",
    }
    errors = parse_facilitator(failing, ["en"], today=TODAY)
    assert errors == [("score", "The e-learning pass mark is 80%: a facilitator with 79% is not accredited")]
    assert parse_facilitator({**values, "email": "not-an-email"}, [], today=TODAY) == [
        ("email", "Enter an email address in the correct format, like name@example.nhs.uk"),
        ("languages-1", "Select at least one language the facilitator can give feedback in"),
    ]


def test_facilitator_line_manager_email_is_optional_but_must_be_an_email_of_someone_else() -> None:
    values = {
        "name": "Sam Okoye",
        "email": "sam.okoye@example.nhs.uk",
        "organisation": "Example Trust",
        "capacity": "4",
    }
    without = parse_facilitator({**values, "line_manager_email": "  "}, ["en"], today=TODAY)
    assert isinstance(without, FacilitatorInput) and without.line_manager_email is None
    given = parse_facilitator({**values, "line_manager_email": " Jo.Bloggs@Example.nhs.uk "}, ["en"], today=TODAY)
    assert isinstance(given, FacilitatorInput) and given.line_manager_email == "jo.bloggs@example.nhs.uk"
    assert parse_facilitator({**values, "line_manager_email": "jo bloggs"}, ["en"], today=TODAY) == [
        (
            "line_manager_email",
            "Enter their line manager's email address in the correct format, like name@example.nhs.uk",
        ),
    ]
    assert parse_facilitator({**values, "line_manager_email": "SAM.OKOYE@example.nhs.uk"}, ["en"], today=TODAY) == [
        ("line_manager_email", "Enter their line manager's email address, not the facilitator's own"),
    ]


def test_accreditation_course_after_elearning() -> None:
    values = {
        "score": "80",
        "elearning-day": "2",
        "elearning-month": "12",
        "elearning-year": "2026",
        "course-day": "1",
        "course-month": "12",
        "course-year": "2026",
    }
    assert parse_accreditation(values, today=TODAY) == [
        ("course-day", "The one-day course comes after passing the e-learning")
    ]


def test_small_forms() -> None:
    assert parse_volunteer({"sessions": "3"}) == 3
    assert parse_volunteer({"sessions": "0"}) == [
        ("sessions", "How many sessions you can offer must be a whole number from 1 to 50")
    ]
    assert parse_status({"status": "lapsed"}) is FacilitatorStatus.LAPSED
    assert parse_status({"status": "retired"}) == [("status-1", "Select the facilitator's status")]
    assert parse_interest({"mode": "either"}, []) == [("months-1", "Select at least one month")]
    registered = [uuid4(), uuid4()]
    assert parse_attendance({"attended": [str(registered[1]), str(uuid4())]}, registered=registered) == {registered[1]}


def test_a_regional_lead_needs_a_region_a_name_and_an_email_in_one_line_each() -> None:
    assert parse_regional_lead(
        {"region": "  North   West ", "name": "Siobhán O'Neill", "email": "S.ONeill@NW.example.nhs.uk"}
    ) == (RegionalLeadInput(region="North West", name="Siobhán O'Neill", email="s.oneill@nw.example.nhs.uk"))
    assert parse_regional_lead({}) == [
        ("region", "Enter the region"),
        ("name", "Enter the regional lead's full name"),
        ("email", "Enter the regional lead's email address"),
    ]
    errors = parse_regional_lead({"region": "Lon\u2028don", "name": "A\tB", "email": "not an email"})
    assert isinstance(errors, list)
    assert [field for field, _ in errors] == ["region", "name", "email"]
    assert errors[0][1] == "The region must be one line of text, without control characters or line breaks"
    assert errors[2][1] == "Enter an email address in the correct format, like name@example.nhs.uk"
    assert parse_regional_lead({"region": "R" * 101, "name": "N", "email": "n@e.nhs.uk"}) == [
        ("region", "The region must be 100 characters or fewer")
    ]
