"""The four services of the authorisation matrix, in-process on fresh databases (no consumers, jobs
or outbox relay: only HTTP and PostgreSQL), each trusting one made-up OIDC issuer; and the least
data every allowed caller needs to get past its check, written through the services' own use cases:
participant A's 360 (invitations, then its events handed to ratings), its report (released, with
A's session), a programme's cohort report and a self-assessment (reports), and in scheduling
facilitators A (London) and B (Midlands), the two regions' leads, A's booking, session, free slot,
call-out and CPD event."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
from sqlalchemy import select
from sqlmodel import col

from invitations.tables import Rater
from invitations.usecases import intake, nominations
from ratings import usecases as rating_usecases
from reports import usecases as report_usecases
from reports.bench import realistic_responses
from scheduling import forms
from scheduling.usecases import booking, community, registry
from shared.contracts.events import (
    CommentAnswer,
    CycleOpened,
    FeedbackSessionScheduled,
    ImportanceAnswer,
    ItemAnswer,
    RaterDeclined,
    RaterNominated,
    SelfAssessmentCompleted,
)
from shared.contracts.vocabulary import RaterGroup, SessionMode
from shared.db import OutboxMessage
from shared.links import new_token
from tests.config import StackSettings
from tests.integration import authz_callers as who
from tests.integration.authz_observations import seed_observations
from tests.integration.conftest import ServiceUnderTest, running_service
from tests.integration.observations_support import LINK_SECRET
from tests.integration.scheduling_support import add_facilitator, add_slot, cycle_events, monday_in, seed_demo_people
from tests.integration.test_invitations_support import fast, request
from tests.integration.test_staff_sign_in import IssuerServer
from tests.staff_tokens import AUDIENCE
from tests.support import closed_cycle

SERVICES = ("invitations", "ratings", "reports", "scheduling", "observations")
PROGRAMME = "Matrix Leadership Programme"
CLIENT = ("192.0.2.36", 50036)  # the matrix's own client address: other tests' per-address limits stay theirs
MORE_THAN_THE_MATRIX_ASKS = 100_000


def overrides(service: str, issuer: IssuerServer, output: Path) -> dict[str, Any]:
    values: dict[str, Any] = {
        "oidc_issuer": issuer.url,
        "oidc_audience": AUDIENCE,
        "run_consumers": False,
        "run_jobs": False,
        "run_outbox_relay": False,
    }
    if service == "invitations":
        values |= fast()
    if service == "ratings":
        values |= {"unknown_link_limit": MORE_THAN_THE_MATRIX_ASKS, "self_assessment_start_limit": 10_000}
    if service in ("reports", "scheduling"):
        values["output_dir"] = output / service
    if service == "scheduling":
        values["seed_availability"] = False
    if service == "observations":
        values |= {
            "link_secret": LINK_SECRET,
            "sign_in_requests_per_client_per_hour": MORE_THAN_THE_MATRIX_ASKS,
            "unknown_links_per_client_per_minute": MORE_THAN_THE_MATRIX_ASKS,
        }
    return values


@dataclass
class Matrix:
    services: dict[str, ServiceUnderTest]
    clients: dict[str, httpx.AsyncClient]
    seeded: who.Seeded


@asynccontextmanager
async def running_matrix(stack: StackSettings, issuer: IssuerServer, output: Path) -> AsyncIterator[Matrix]:
    async with AsyncExitStack() as stack_of:
        services = {
            name: await stack_of.enter_async_context(running_service(name, stack, **overrides(name, issuer, output)))
            for name in SERVICES
        }
        clients = {}
        for name, service in services.items():
            transport = httpx.ASGITransport(app=service.app, client=CLIENT)
            client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            clients[name] = await stack_of.enter_async_context(client)
        yield Matrix(services, clients, await seed(services, issuer))


def settings_of(service: ServiceUnderTest) -> Any:
    return service.app.state.settings


async def seed(services: dict[str, ServiceUnderTest], issuer: IssuerServer) -> who.Seeded:
    cycle_id, values, secrets = await seed_invitations(services["invitations"])
    secrets |= await seed_ratings(services["ratings"], services["invitations"])
    people, more = await seed_scheduling(services["scheduling"], cycle_id)
    values |= more
    secrets |= people.secrets
    secrets |= await seed_reports(services["reports"], cycle_id, people, values)
    journals = await seed_observations(services["observations"])
    values |= journals.path_values
    secrets |= journals.secrets
    admin_tokens = {}
    for name, service in services.items():
        token = service.runtime.settings.admin_token
        assert token is not None
        admin_tokens[name] = token.get_secret_value()
    return who.Seeded(
        path_values={**values, "cycle_id": str(cycle_id), "page_name": "1"},
        secrets=secrets,
        own_links=people.own_links,
        admin_tokens=admin_tokens,
        staff_tokens={True: issuer.issuer.token(), False: issuer.issuer.token(roles=["hlm360-reader"])},
        cookies=journals.cookies,
    )


Secrets = dict[tuple[str, str], str]


async def seed_invitations(service: ServiceUnderTest) -> tuple[UUID, dict[str, str], Secrets]:
    """A's 360 opened (its raters invited), one peer who declined and needs replacing."""
    settings = settings_of(service)
    event = request(tag="matrix")
    async with service.runtime.uow() as uow:
        await intake.open_cycle(uow, event, settings=settings)
        await uow.commit()
    async with service.runtime.uow() as uow:
        rows = await uow.session.execute(select(Rater).where(col(Rater.cycle_id) == event.cycle_id))
        peers = [r for r in rows.scalars() if r.group == RaterGroup.PEER.value]
        rater, declined = peers[0], peers[1]
        await nominations.record_decline(
            uow, RaterDeclined(producer="matrix", cycle_id=event.cycle_id, rater_id=declined.id, group=RaterGroup.PEER)
        )
        await uow.commit()
    cycle_id = event.cycle_id
    secrets = {
        (who.RATER, "*"): who.rater_token(settings, rater),
        (who.PARTICIPANT, "*"): who.participant_token(settings, cycle_id),
        (who.PARTICIPANT, "confirm"): who.confirm_token(settings, cycle_id),
        (who.LINE_MANAGER, "*"): who.approval_token(settings, cycle_id),
    }
    return cycle_id, {"rater_id": str(declined.id)}, secrets


async def seed_ratings(service: ServiceUnderTest, invitations: ServiceUnderTest) -> Secrets:
    """What invitations announced (the cycle, its raters' link hashes), as ratings' handlers take it;
    and a self-assessment under way."""
    async with invitations.runtime.uow() as uow:
        rows = await uow.session.execute(select(OutboxMessage).order_by(col(OutboxMessage.id)))
        announced = [(m.event_type, json.loads(m.payload)) for m in rows.scalars()]
    async with service.runtime.uow() as uow:
        for event_type, payload in announced:
            if event_type == "CycleOpened":
                await rating_usecases.record_cycle_opened(uow, CycleOpened.model_validate(payload))
            elif event_type == "RaterNominated":
                await rating_usecases.record_rater_nominated(uow, RaterNominated.model_validate(payload))
        token = await rating_usecases.start_self_assessment(uow, now=datetime.now(UTC))
        await uow.commit()
    assert {"CycleOpened", "RaterNominated"} <= {t for t, _ in announced}, "invitations announced no open 360"
    return {(who.PARTICIPANT, "self_assessment"): token}


@dataclass
class People:
    facilitator: UUID
    other_facilitator: UUID
    session_id: UUID
    secrets: Secrets
    own_links: dict[tuple[str, str], dict[str, str]]


async def seed_scheduling(service: ServiceUnderTest, cycle_id: UUID) -> tuple[People, dict[str, str]]:
    settings = settings_of(service)
    await seed_demo_people(service)
    mine = await add_facilitator(service, region="London")
    other = await add_facilitator(service, region="Midlands")
    booked = await add_slot(service, mine, monday_in(3))
    free = await add_slot(service, mine, monday_in(3, hour=14))
    opened, report = cycle_events(cycle_id=cycle_id)
    now = datetime.now(UTC)
    soon = date.today() + timedelta(days=20)
    async with service.runtime.uow() as uow:
        await booking.record_participant(uow, opened)
        await booking.request_booking(uow, report, settings=settings, now=now)
        session = await booking.choose_slot(
            uow, cycle_id=cycle_id, slot_id=booked, language=None, settings=settings, now=now
        )
        london = await registry.lead_in_region(uow, region="London")
        midlands = await registry.lead_in_region(uow, region="Midlands")
        assert london is not None and midlands is not None
        callout = await community.publish_callout(
            uow,
            lead=london,
            details=forms.CalloutInput(
                title="Sessions in spring",
                details="More sessions are needed.",
                mode="virtual",
                period_start=soon,
                period_end=soon + timedelta(days=30),
                participants=4,
                register_by=soon,
            ),
        )
        event = await community.publish_cpd_event(
            uow,
            lead=london,
            details=forms.CpdEventInput(
                title="Facilitation skills", day=soon, start=time(10), end=time(12), venue="Online", places=10
            ),
            settings=settings,
        )
        facilitator = await registry.facilitator_of(uow, facilitator_id=mine)
        other_facilitator = await registry.facilitator_of(uow, facilitator_id=other)
        assert facilitator is not None and other_facilitator is not None
        signatures = {
            "A": who.facilitator_signature(settings, facilitator),
            "B": who.facilitator_signature(settings, other_facilitator),
            "lead A": who.lead_signature(settings, london),
            "lead B": who.lead_signature(settings, midlands),
        }
        values = {
            "facilitator_id": str(mine),
            "lead_id": str(london.id),
            "session_id": str(session.id),
            "slot_id": str(free),
            "callout_id": str(callout.id),
            "event_id": str(event.id),
        }
        await uow.commit()
    secrets: Secrets = {
        (who.PARTICIPANT, "booking"): who.booking_signature(settings, cycle_id),
        (who.FACILITATOR, "*"): signatures["A"],
        (who.OTHER_FACILITATOR, "*"): signatures["B"],
        (who.LEAD, "*"): signatures["lead A"],
        (who.OTHER_LEAD, "*"): signatures["lead B"],
    }
    secrets |= {(who.PARTICIPANT, kind): secrets[(who.PARTICIPANT, "booking")] for kind in ("facilitator", "lead")}
    own_links = {
        (who.OTHER_FACILITATOR, "facilitator"): {"facilitator_id": str(other), "signature": signatures["B"]},
        (who.OTHER_LEAD, "lead"): {"lead_id": str(midlands.id), "signature": signatures["lead B"]},
    }
    return People(mine, other, session.id, secrets, own_links), values


async def seed_reports(service: ServiceUnderTest, cycle_id: UUID, people: People, values: dict[str, str]) -> Secrets:
    """A's report (and two more of the programme, for a cohort report), booked with facilitator A and
    released; a self-assessment report."""
    settings = settings_of(service)
    async with service.runtime.uow() as uow:
        for number, cycle in enumerate((cycle_id, uuid4(), uuid4())):
            opened, ratings, closed = closed_cycle(cycle, participant_id=f"MX-{number}", programme=PROGRAMME)
            await report_usecases.record_cycle_opened(uow, opened, settings=settings)
            for rating in ratings:
                await report_usecases.record_rating(uow, rating, settings=settings)
            await report_usecases.record_cycle_closed(uow, closed, settings=settings)
        await uow.commit()
    async with service.runtime.uow() as uow:
        location = await report_usecases.report_location(uow, cycle_id=cycle_id)
        assert location is not None, "no report was generated"
        report_id = location.id
        starts = monday_in(3)
        scheduled = FeedbackSessionScheduled(
            producer="matrix",
            cycle_id=cycle_id,
            session_id=people.session_id,
            report_id=report_id,
            facilitator_id=people.facilitator,
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            mode=SessionMode.VIRTUAL,
        )
        await report_usecases.record_session(uow, scheduled, settings=settings)
        released = await report_usecases.release_by_admin(
            uow, cycle_id=cycle_id, settings=settings, now=datetime.now(UTC)
        )
        cohort = await report_usecases.create_cohort_report(
            uow, programme=PROGRAMME, lead_email=None, settings=settings
        )
        assert released == "released" and isinstance(cohort, report_usecases.CohortCreated), (released, cohort)
        assessment_id, own_token = uuid4(), new_token()
        await report_usecases.record_self_assessment(uow, self_assessment(assessment_id, own_token))
        await uow.commit()
    values["assessment_id"] = str(assessment_id)
    facilitator = who.report_token(settings, report_id=report_id, role="facilitator", holder_id=people.facilitator)
    other = who.report_token(settings, report_id=report_id, role="facilitator", holder_id=people.other_facilitator)
    participant = who.report_token(settings, report_id=report_id, role="participant", holder_id=None)
    reports_kinds = ("report", "self_assessment_report", "cohort")
    return {
        (who.PARTICIPANT, "report"): participant,
        (who.PARTICIPANT, "self_assessment_report"): own_token,
        (who.PARTICIPANT, "cohort"): own_token,
        (who.PROGRAMME_LEAD, "*"): cohort.link.rstrip("/").rsplit("/", 1)[1],
        **{(who.FACILITATOR, kind): facilitator for kind in reports_kinds},
        **{(who.OTHER_FACILITATOR, kind): other for kind in reports_kinds},
    }


def self_assessment(assessment_id: UUID, token: str) -> SelfAssessmentCompleted:
    """What ratings announces when someone finishes the free self-assessment."""
    own = realistic_responses()[0]
    return SelfAssessmentCompleted(
        producer="matrix",
        assessment_id=assessment_id,
        access_token_sha256=hashlib.sha256(token.encode()).hexdigest(),
        questionnaire_version="hlm360-default-1",
        answers=[ItemAnswer(item_id=a.item_id, dimension=a.dimension, score=a.score) for a in own.answers],
        importance=[ImportanceAnswer(dimension=d, score=s) for d, s in own.importance.items()],
        comments=[CommentAnswer(question_id="overall_strengths", text="I listen")],
    )
