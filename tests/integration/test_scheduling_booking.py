"""Booking in-process against real Kafka, PostgreSQL and SMTP: the report on Kafka opens the
booking and emails the link, the participant books over HTTP; matching rules (region, conflicts of
interest, eligibility, language); signed links that are forged, foreign or stale."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

from sqlalchemy import select
from sqlmodel import col

from scheduling.links import LinkPurpose
from scheduling.tables import (
    BookingRequest,
    Facilitator,
    FeedbackSession,
    OutgoingEmail,
    Participant,
)
from scheduling.usecases import booking, common, followups
from shared.contracts.events import (
    FeedbackSessionScheduled,
)
from shared.contracts.topics import topic_for
from tests.config import StackSettings
from tests.integration.conftest import ServiceUnderTest
from tests.integration.scheduling_support import (
    LONDON,
    LONDON_LEAD,
    add_facilitator,
    add_slot,
    booking_link_in,
    booking_path,
    config,
    cycle_events,
    emails,
    monday_in,
    offer,
    open_booking,
    publish,
    service_fixture,  # noqa: F401 (the `service` fixture)
)
from tests.support import TopicReader, eventually


async def test_report_on_kafka_emails_a_booking_link_and_the_participant_books_over_http(
    settings: StackSettings, service: ServiceUnderTest
) -> None:
    near = await add_facilitator(service)
    first = await add_slot(service, near, monday_in(2))
    await add_slot(service, near, monday_in(2, hour=14))
    cycle_id = uuid4()
    opened, report = cycle_events(cycle_id=cycle_id)
    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, topic_for(FeedbackSessionScheduled)) as reader:
        await publish(settings.hlm360_kafka_bootstrap_servers, opened, report)

        async def sent_offer() -> OutgoingEmail | None:
            found = [m for m in await emails(service, cycle_id) if m.kind == "booking_offer" and m.sent_at]
            return found[0] if found else None

        offer_email = await eventually(sent_offer, what="the booking email sent through SMTP")
        assert offer_email.to_address == str(opened.participant_email)
        sent_link = booking_link_in(service, cycle_id, offer_email.body)
        assert (await service.client.get(booking_path(service, cycle_id)[:-2] + "xx")).status_code == 404

        page = await service.client.get(sent_link)
        assert page.status_code == 200 and str(first) in page.text and "Choose a time" in page.text
        missing = await service.client.post(sent_link, data={})
        assert missing.status_code == 400 and "Select a time for your feedback session" in missing.text
        chosen = await service.client.post(sent_link, data={"slot": str(first)})
        assert chosen.status_code == 303
        booked = await service.client.get(chosen.headers["location"])
        assert "Your feedback session is booked" in booked.text

        api = (await service.admin.get("/api/sessions", params={"cycle_id": str(cycle_id)})).json()
        assert api["status"] == "booked" and api["facilitator_id"] == str(near)
        assert set(api) >= {"id", "cycle_id", "facilitator_id", "starts_at", "ends_at", "mode", "status", "ics_path"}
        assert Path(api["ics_path"]).read_bytes().startswith(b"BEGIN:VCALENDAR")
        records = await reader.wait_for(lambda r: r.key == str(cycle_id).encode())
        assert json.loads(records[0].value)["session_id"] == api["id"]
    # Redelivery of the same report neither books nor emails again.
    async with service.runtime.uow() as uow:
        again = await booking.request_booking(uow, report, settings=config(service), now=datetime.now(UTC))
        await uow.commit()
    assert again is booking.Outcome.ALREADY_BOOKED
    kinds = sorted(m.kind for m in await emails(service, cycle_id))
    assert kinds == ["booking_offer", "session_booked", "session_booked"]


async def test_matching_prefers_region_excludes_conflicts_and_ineligible_and_filters_language(
    service: ServiceUnderTest,
) -> None:
    start = monday_in(3)
    own_org = await add_facilitator(service, organisation="Participant Trust")
    same_domain = await add_facilitator(
        service, organisation="PT (other name)", email_address="someone@participant.example.nhs.uk"
    )
    lapsed = await add_facilitator(service, status="lapsed")
    failed = await add_facilitator(service, score=70)
    near = await add_facilitator(service, languages=("en",))
    far = await add_facilitator(service, region="Midlands", languages=("en", "ta"))
    for n, facilitator in enumerate((own_org, same_domain, lapsed, failed, near, far)):
        await add_slot(service, facilitator, start + timedelta(hours=3 * n))
    far_early = await add_slot(service, far, start - timedelta(days=2))

    cycle_id = await open_booking(service)
    offered = await offer(service, cycle_id)
    owners = [o.slot.facilitator_id for o in offered.options]
    assert owners == [near, far, far], "same region first, then others by time; conflicts and ineligible never"
    assert offered.options[1].slot.id == far_early
    assert [o.slot.facilitator_id for o in (await offer(service, cycle_id, language="ta")).options] == [far, far]

    chose_far = await open_booking(service, chosen=far)
    own = await offer(service, chose_far)
    assert own.chose_facilitator and {o.slot.facilitator_id for o in own.options} == {far}
    chose_lapsed = await open_booking(service, chosen=lapsed)
    fallback = await offer(service, chose_lapsed)
    assert fallback.choice_unavailable and fallback.options[0].slot.facilitator_id == near
    chose_conflict = await open_booking(service, chosen=own_org)
    assert own_org not in {o.slot.facilitator_id for o in (await offer(service, chose_conflict)).options}


async def test_the_participants_management_line_is_never_offered_even_when_chosen(
    settings: StackSettings, service: ServiceUnderTest
) -> None:
    participant_email = f"amara.{uuid4().hex[:8]}@participant.example.nhs.uk"
    # Other trusts' email domains, so only the management line makes these two a conflict.
    manager = await add_facilitator(service, email_address=f"Jo.Bloggs.{uuid4().hex[:6]}@Elsewhere.example.nhs.uk")
    async with service.runtime.uow() as uow:
        manager_email = (await uow.session.get(Facilitator, manager)).email  # type: ignore[union-attr]
    # The regional lead registers a facilitator whose line manager is the participant.
    lead_page = common.links(config(service)).path(LinkPurpose.LEAD, LONDON_LEAD)
    tag = uuid4().hex[:8]
    course = datetime.now(LONDON).date() - timedelta(days=30)
    registered = await service.client.post(
        f"{lead_page}/facilitators/new",
        data={
            "name": f"Report {tag}",
            "email": f"report.{tag}@another.example.nhs.uk",
            "organisation": f"Another {tag}",
            "line_manager_email": participant_email.upper(),
            "languages": "en",
            "capacity": "8",
            "score": "90",
            "elearning-day": str(course.day),
            "elearning-month": str(course.month),
            "elearning-year": str(course.year),
            "course-day": str(course.day),
            "course-month": str(course.month),
            "course-year": str(course.year),
        },
    )
    assert registered.status_code == 303, registered.text
    async with service.runtime.uow() as uow:
        report, their_manager = (
            await uow.session.execute(
                select(col(Facilitator.id), col(Facilitator.line_manager_email)).where(
                    col(Facilitator.email) == f"report.{tag}@another.example.nhs.uk"
                )
            )
        ).one()
    assert their_manager == participant_email
    other = await add_facilitator(service)
    manager_slot = await add_slot(service, manager, monday_in(2))
    report_slot = await add_slot(service, report, monday_in(2, hour=14))
    other_slot = await add_slot(service, other, monday_in(3))

    # Over Kafka: the participant chose their own line manager (the management line is stored, in any case).
    cycle_id = uuid4()
    opened, ready = cycle_events(
        cycle_id=cycle_id,
        email_address=participant_email,
        chosen=manager,
        management_line=(manager_email.upper(), "director@participant.example.nhs.uk"),
    )
    await publish(settings.hlm360_kafka_bootstrap_servers, opened, ready)

    async def booking_offered() -> OutgoingEmail | None:
        return next((m for m in await emails(service, cycle_id) if m.kind == "booking_offer"), None)

    await eventually(booking_offered, what="the booking email")
    async with service.runtime.uow() as uow:
        stored = await uow.session.get(Participant, cycle_id)
        assert stored is not None and stored.preferred_language is None
        assert {m.casefold() for m in stored.management_line} == {
            manager_email.casefold(),
            "director@participant.example.nhs.uk",
        }
    offered = await offer(service, cycle_id)
    assert offered.choice_unavailable and not offered.chose_facilitator
    assert {o.slot.facilitator_id for o in offered.options} == {other}
    page = await service.client.get(booking_path(service, cycle_id))
    assert str(other_slot) in page.text and str(manager_slot) not in page.text and str(report_slot) not in page.text
    for forbidden in (manager_slot, report_slot):
        refused = await service.client.post(booking_path(service, cycle_id), data={"slot": str(forbidden)})
        assert refused.status_code == 409 and "That time has just been taken" in refused.text

    # Choosing the facilitator they line-manage is no better (and with no management line given, their
    # manager is just another facilitator).
    chose_report = await open_booking(service, email_address=participant_email, chosen=report)
    assert {o.slot.facilitator_id for o in (await offer(service, chose_report)).options} == {manager, other}


async def test_the_preferred_language_filters_the_offer_and_preselects_the_page_filter(
    service: ServiceUnderTest,
) -> None:
    welsh = await add_facilitator(service, languages=("en", "cy"))
    english = await add_facilitator(service, languages=("en",))
    welsh_slot = await add_slot(service, welsh, monday_in(2))
    english_slot = await add_slot(service, english, monday_in(2, hour=14))

    cycle_id = await open_booking(service, preferred_language="cy")
    assert {o.slot.facilitator_id for o in (await offer(service, cycle_id)).options} == {welsh}
    assert {o.slot.facilitator_id for o in (await offer(service, cycle_id, language="any")).options} == {welsh, english}
    assert {o.slot.facilitator_id for o in (await offer(service, cycle_id, language="en")).options} == {welsh, english}
    no_preference = await open_booking(service)
    assert {o.slot.facilitator_id for o in (await offer(service, no_preference)).options} == {welsh, english}

    page = (await service.client.get(booking_path(service, cycle_id))).text
    assert '<option value="cy" selected>Welsh</option>' in page
    assert str(welsh_slot) in page and str(english_slot) not in page
    everyone = (await service.client.get(booking_path(service, cycle_id), params={"language": "any"})).text
    assert '<option value="any" selected>Any language</option>' in everyone and str(english_slot) in everyone
    # The time chosen is checked against the filter the page showed.
    refused = await service.client.post(
        booking_path(service, cycle_id), data={"slot": str(english_slot), "language": "cy"}
    )
    assert refused.status_code == 409
    booked = await service.client.post(
        booking_path(service, cycle_id), data={"slot": str(english_slot), "language": "any"}
    )
    assert booked.status_code == 303


async def test_nobody_speaking_the_preferred_language_leaves_the_cycle_unscheduled_for_the_lead(
    service: ServiceUnderTest,
) -> None:
    english = await add_facilitator(service, languages=("en",))
    await add_slot(service, english, monday_in(2))
    cycle_id = await open_booking(service, preferred_language="cy")
    (row,) = [r for r in (await service.admin.get("/api/unscheduled")).json() if r["cycle_id"] == str(cycle_id)]
    assert "no facilitator who speaks Welsh" in row["reason"]
    assert [m.kind for m in await emails(service, cycle_id)] == []

    lead_page = common.links(config(service)).path(LinkPurpose.LEAD, LONDON_LEAD)
    assert "No facilitator who speaks Welsh" in (await service.client.get(lead_page)).text
    async with service.runtime.uow() as uow:
        request = await uow.session.get(BookingRequest, cycle_id)
        assert request is not None
        await followups.escalate_unbooked(uow, settings=config(service), now=request.created_at + timedelta(days=8))
        await uow.commit()
    (escalation,) = [m for m in await emails(service, cycle_id) if m.kind == "escalation"]
    assert "who speaks Welsh" in escalation.body

    # A Welsh speaker with free time: the retry job offers the booking.
    welsh = await add_facilitator(service, region="Midlands", languages=("cy",))
    await add_slot(service, welsh, monday_in(3))

    async def offered() -> list[OutgoingEmail] | None:
        return [m for m in await emails(service, cycle_id) if m.kind == "booking_offer"] or None

    await eventually(offered, what="the retry job to email the booking link")
    assert {o.slot.facilitator_id for o in (await offer(service, cycle_id)).options} == {welsh}


async def test_forged_foreign_or_stale_links_show_the_not_recognised_page(service: ServiceUnderTest) -> None:
    facilitator = await add_facilitator(service)
    slot = await add_slot(service, facilitator, monday_in(2))
    cycle_id = await open_booking(service)
    links = common.links(config(service))
    book_page = links.booking_path(cycle_id, now=datetime.now(UTC))
    facilitator_page = links.path(LinkPurpose.FACILITATOR, facilitator)
    lead_page = links.path(LinkPurpose.LEAD, LONDON_LEAD)
    forged = [path[:-2] + "xx" for path in (book_page, facilitator_page, lead_page)]
    foreign = [
        f"/facilitator/{facilitator}/{lead_page.rsplit('/', 1)[1]}",  # another purpose's signature
        f"/lead/{LONDON_LEAD}/{facilitator_page.rsplit('/', 1)[1]}",
        f"/book/{cycle_id}/{'A' * 101}",  # longer than any signature
        links.path(LinkPurpose.FACILITATOR, uuid4()),  # signed, but nobody's
        links.path(LinkPurpose.LEAD, uuid4()),
    ]
    for path in forged + foreign:
        page = await service.client.get(path)
        assert page.status_code == 404 and "Link not recognised" in page.text, path
        assert page.headers["x-robots-tag"] == "noindex, nofollow"
    attempts = [
        (forged[0], {"slot": str(slot)}),
        (forged[0] + "/cancel", {"session_id": str(uuid4())}),
        (forged[1] + "/availability", {}),
        (forged[1] + "/interest", {"mode": "virtual", "months": "March"}),
        (forged[2] + "/facilitators/new", {"name": "Forged", "email": "forged@example.nhs.uk"}),
        (foreign[3] + f"/slots/{slot}/remove", {}),
    ]
    for path, data in attempts:
        refused = await service.client.post(path, data=data)
        assert refused.status_code == 404 and "Link not recognised" in refused.text, path
    assert await live_session(service, cycle_id) is None
    for path in (
        book_page,
        facilitator_page,
        f"{facilitator_page}/availability",
        lead_page,
        f"{lead_page}/facilitators/new",
    ):
        assert (await service.client.get(path)).status_code == 200, path


async def live_session(service: ServiceUnderTest, cycle_id: UUID) -> FeedbackSession | None:
    async with service.runtime.uow() as uow:
        return await common.live_session_of(uow, cycle_id=cycle_id)
