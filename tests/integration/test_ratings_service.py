"""Ratings in-process against real Kafka and PostgreSQL: the closing rules, drafts, declines,
withdrawals and replacements, races, redeliveries, the self-assessment and the unknown-link limit."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import col, func, select

from deploy.demo.raters import answer_questionnaire
from ratings import usecases
from ratings.config import DEFAULT_ITEM_BANK, Settings
from ratings.main import create_app
from ratings.tables import Draft
from ratings.web.deps import Limits, limits_of
from shared.consumer_lag import ConsumerLag
from shared.contracts.events import (
    CycleClosed,
    CycleCloseRequested,
    CycleDeadlineExtended,
    CycleOpened,
    Event,
    RaterDeclined,
    RaterNominated,
    RaterWithdrawn,
    RatingSubmitted,
    ResponseReceived,
    SelfAssessmentCompleted,
)
from shared.contracts.topics import topic_for
from shared.contracts.vocabulary import Dimension, RaterGroup
from shared.db import OutboxMessage, ProcessedEvent
from shared.links import token_sha256
from shared.messaging import client_options
from shared.questionnaire import load_item_bank
from shared.service import ServiceRuntime
from tests.config import StackSettings
from tests.integration.conftest import ServiceUnderTest, running_service
from tests.support import TopicReader, eventually

BANK = load_item_bank(DEFAULT_ITEM_BANK)
BASE = "http://testserver"


@pytest.fixture(scope="module")
async def ratings(settings: StackSettings) -> AsyncIterator[ServiceUnderTest]:
    async with running_service("ratings", settings, deadline_check_seconds=0.2) as service:
        yield service


def client_of_its_own(service: ServiceUnderTest) -> httpx.AsyncClient:
    """A client at an address no other test uses: the unknown links they try, counted per address
    in the service's database, are not counted against it."""
    transport = httpx.ASGITransport(app=service.app, client=(f"2001:db8::{uuid4().hex[:4]}", 50000))
    return httpx.AsyncClient(transport=transport, base_url=BASE)


def opened(cycle_id: UUID, *, invited: dict[RaterGroup, int], deadline: datetime | None = None) -> CycleOpened:
    return CycleOpened(
        producer="itest",
        cycle_id=cycle_id,
        participant_id="ESR-1",
        participant_name="Amara Okafor",
        organisation="Example NHS Trust",
        region="London",
        deadline=deadline or datetime.now(UTC) + timedelta(days=7),
        invited_per_group=invited,
    )


def nominated(cycle_id: UUID, group: RaterGroup, *, replaces: UUID | None = None) -> tuple[RaterNominated, str]:
    token = secrets.token_urlsafe(32)
    event = RaterNominated(
        producer="itest",
        cycle_id=cycle_id,
        rater_id=uuid4(),
        group=group,
        link_token_sha256=hashlib.sha256(token.encode()).hexdigest(),
        replaces_rater_id=replaces,
    )
    return event, token


async def publish(service: ServiceUnderTest, *events: Event) -> None:
    for event in events:
        await service.runtime.broker.publish(event.model_dump_json().encode(), topic_for(event), key=event.kafka_key())


async def cycle_state(service: ServiceUnderTest, cycle_id: UUID) -> dict[str, Any] | None:
    response = await service.admin.get(f"/api/cycles/{cycle_id}")
    return response.json() if response.status_code == 200 else None


async def wait_for_state(
    service: ServiceUnderTest, cycle_id: UUID, check: Callable[[dict[str, Any]], bool], *, what: str
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        state = await cycle_state(service, cycle_id)
        return state if state is not None and check(state) else None

    return await eventually(probe, what=what)


async def link_ready(service: ServiceUnderTest, token: str) -> None:
    async def probe() -> bool:
        return (await service.client.get(f"/r/{token}")).status_code == 200

    # a fresh in-process service first replays every older event on the topics: allow for that
    await eventually(probe, timeout=240, what="rater link answers 200")


def complete_page(page: int | str) -> dict[str, str]:
    if page == "comments":
        return {"comment:overall_strengths": "Calm in a crisis.", "comment:overall_development": "Delegate more."}
    section = BANK.dimensions[int(page) - 1]
    return {f"item:{item.id}": "4" for item in section.items} | {f"importance:{section.dimension.value}": "3"}


async def fill_every_page(service: ServiceUnderTest, token: str) -> None:
    for page in [*range(1, 10), "comments"]:
        response = await service.client.post(f"/r/{token}/{page}", data=complete_page(page))
        assert response.status_code == 303, (page, response.status_code)


async def move_deadline(service: ServiceUnderTest, cycle_id: UUID, *, seconds: float) -> CycleDeadlineExtended:
    """Bring the deadline close, once the rater is ready. This extension moves it earlier, which
    invitations never does: should CycleOpened be applied again after it (a replay of the topics),
    its deadline a week away wins (a repeated CycleOpened never moves a deadline earlier)."""
    event = CycleDeadlineExtended(
        producer="itest", cycle_id=cycle_id, deadline=datetime.now(UTC) + timedelta(seconds=seconds)
    )
    await publish(service, event)
    await wait_for_state(
        service, cycle_id, lambda s: datetime.fromisoformat(s["deadline"]) == event.deadline, what="deadline moved"
    )
    return event


async def outbox(service: ServiceUnderTest, event_type: str, key: UUID) -> list[dict[str, Any]]:
    async with service.runtime.uow() as uow:
        rows = await uow.session.exec(
            select(OutboxMessage.payload).where(
                col(OutboxMessage.event_type) == event_type, col(OutboxMessage.key) == str(key)
            )
        )
        return [json.loads(payload) for payload in rows.all()]


async def drafts(service: ServiceUnderTest, *tokens: str) -> int:
    hashes = [hashlib.sha256(t.encode()).hexdigest() for t in tokens]
    async with service.runtime.uow() as uow:
        return (await uow.session.exec(select(func.count()).where(col(Draft.token_sha256).in_(hashes)))).one()


def keyed(cycle_id: UUID) -> Callable[[Any], bool]:
    return lambda record: record.key == str(cycle_id).encode()


# --- closing rules -----------------------------------------------------------------------------


async def test_all_responded_counts_declines_and_closes_once_with_responses_per_group(
    ratings: ServiceUnderTest, settings: StackSettings
) -> None:
    cycle_id = uuid4()
    (peer_a, token_a), (peer_b, token_b), (other, token_c) = (
        nominated(cycle_id, RaterGroup.PEER),
        nominated(cycle_id, RaterGroup.PEER),
        nominated(cycle_id, RaterGroup.OTHER),
    )
    async with TopicReader(
        settings.hlm360_kafka_bootstrap_servers,
        topic_for(CycleClosed),
        topic_for(RatingSubmitted),
        topic_for(ResponseReceived),
        topic_for(RaterDeclined),
    ) as reader:
        await publish(
            ratings, opened(cycle_id, invited={RaterGroup.PEER: 2, RaterGroup.OTHER: 1}), peer_a, peer_b, other
        )
        for token in (token_a, token_b, token_c):
            await link_ready(ratings, token)

        await answer_questionnaire(ratings.client, f"{BASE}/r/{token_a}", rng=random.Random(1), leaning=4)
        declined = await ratings.client.post(f"/r/{token_b}/decline", data={"reason": "  On long-term leave. "})
        assert declined.status_code == 303 and declined.headers["location"].endswith("/declined")
        assert (await cycle_state(ratings, cycle_id) or {})["status"] == "open"
        await answer_questionnaire(ratings.client, f"{BASE}/r/{token_c}", rng=random.Random(2), leaning=2)

        state = await wait_for_state(ratings, cycle_id, lambda s: s["status"] == "closed", what="cycle closed")
        records = await reader.wait_for(keyed(cycle_id), count=6)

    assert state["close_reason"] == "all_responded"
    assert (state["expected"], state["declined"]) == (3, 1)
    events = [json.loads(r.value) for r in records]
    closed = [e for e in events if e["event_type"] == "CycleClosed"]
    assert closed[0]["reason"] == "all_responded"
    assert closed[0]["responses_per_group"] == {"peer": 1, "other": 1}
    assert [e["reason"] for e in events if e["event_type"] == "RaterDeclined"] == ["On long-term leave."]
    submitted = [e for e in events if e["event_type"] == "RatingSubmitted"]
    assert {e["questionnaire_version"] for e in submitted} == {BANK.version}
    assert all(len(e["answers"]) == 36 and len(e["importance"]) == 9 for e in submitted)
    received = [e for e in events if e["event_type"] == "ResponseReceived"]
    assert sorted((e["rater_id"], e["group"]) for e in received) == sorted(
        (e["rater_id"], e["group"]) for e in submitted
    )
    assert {str(peer_a.rater_id), str(other.rater_id)} == {e["rater_id"] for e in received}
    assert not any({"answers", "importance", "comments"} & set(e) for e in received)
    assert len(await outbox(ratings, "CycleClosed", cycle_id)) == 1
    assert await drafts(ratings, token_a, token_b, token_c) == 0
    # after submission nothing can be read back through the link
    for path in ("", "/1", "/check", "/comments", "/done"):
        page = await ratings.client.get(f"/r/{token_a}{path}")
        assert "Calm in a crisis" not in page.text and "checked" not in page.text


async def test_an_early_close_by_event_and_by_the_api_is_idempotent(ratings: ServiceUnderTest) -> None:
    by_event, by_api = uuid4(), uuid4()
    rater, token = nominated(by_event, RaterGroup.PEER)
    request = CycleCloseRequested(producer="itest", cycle_id=by_event, requested_by="participant")
    await publish(ratings, opened(by_event, invited={RaterGroup.PEER: 3}), opened(by_api, invited={RaterGroup.SELF: 1}))
    await publish(ratings, rater)
    await link_ready(ratings, token)
    await fill_every_page(ratings, token)

    await publish(
        ratings, request, request, CycleCloseRequested(producer="itest", cycle_id=by_event, requested_by="admin")
    )
    state = await wait_for_state(ratings, by_event, lambda s: s["status"] == "closed", what="closed by event")
    await wait_for_state(ratings, by_api, lambda s: s["status"] == "open", what="second cycle recorded")
    assert (await ratings.client.post(f"/api/cycles/{by_api}/close")).status_code == 401, "the admin token is needed"
    first = await ratings.admin.post(f"/api/cycles/{by_api}/close")
    again = await ratings.admin.post(f"/api/cycles/{by_api}/close")

    assert state["close_reason"] == "closed_early"
    assert (first.json()["status"], first.json()["close_reason"]) == ("closed", "closed_early")
    assert again.json() == first.json()
    assert (await ratings.admin.post(f"/api/cycles/{uuid4()}/close")).status_code == 404

    async def one_each() -> bool:
        return (
            len(await outbox(ratings, "CycleClosed", by_event)) == 1
            and len(await outbox(ratings, "CycleClosed", by_api)) == 1
        )

    await eventually(one_each, what="one CycleClosed per cycle")
    # a closed cycle refuses answers, says so, and has forgotten the unsent draft
    refused = await ratings.client.post(f"/r/{token}/check")
    assert refused.status_code == 409 and "This questionnaire has closed" in refused.text
    assert await drafts(ratings, token) == 0


async def test_at_the_deadline_the_clock_under_the_cycle_lock_decides_a_submission(ratings: ServiceUnderTest) -> None:
    """The defined outcome of the race: a submission holding the cycle lock before the deadline counts
    (the closing job waits for the lock, then sees it); one that gets the lock at the deadline is refused
    and closes the cycle itself, so the job finds nothing left to do."""
    cycle_id = uuid4()
    (early, early_token), (late, late_token) = (
        nominated(cycle_id, RaterGroup.PEER),
        nominated(cycle_id, RaterGroup.PEER),
    )
    deadline = datetime.now(UTC) + timedelta(hours=1)
    await publish(ratings, opened(cycle_id, invited={RaterGroup.PEER: 3}, deadline=deadline), early, late)
    for token in (early_token, late_token):
        await link_ready(ratings, token)
        await fill_every_page(ratings, token)

    async def submit(token: str, at: datetime) -> usecases.RaterAccess:
        async with ratings.runtime.uow() as uow:
            outcome = await usecases.submit_response(uow, token_hash=token_sha256(token), bank=BANK, now=at)
            await uow.commit()
            return outcome

    just_before = await submit(early_token, deadline - timedelta(microseconds=1))
    at_deadline = await submit(late_token, deadline)

    assert just_before.access is usecases.Access.ACCEPTED
    assert at_deadline.access is usecases.Access.CLOSED
    state = await cycle_state(ratings, cycle_id)
    assert state is not None and (state["status"], state["close_reason"]) == ("closed", "deadline_passed")
    assert state["responded_per_group"] == {"peer": 1}
    assert len(await outbox(ratings, "RatingSubmitted", cycle_id)) == 1
    assert len(await outbox(ratings, "CycleClosed", cycle_id)) == 1
    refused = await ratings.client.post(f"/r/{late_token}/check")
    assert refused.status_code == 409 and "This questionnaire has closed" in refused.text


async def test_a_response_emits_its_answers_and_the_bare_fact_in_one_transaction(ratings: ServiceUnderTest) -> None:
    """Issue 12, minimum data in events: RatingSubmitted (answers, for reports) and ResponseReceived (the
    fact, for invitations) are written to the outbox together or not at all, each for its own topic."""
    cycle_id = uuid4()
    rater, token = nominated(cycle_id, RaterGroup.DIRECT_REPORT)
    await publish(ratings, opened(cycle_id, invited={RaterGroup.DIRECT_REPORT: 3}), rater)
    await link_ready(ratings, token)
    await fill_every_page(ratings, token)

    async def submit(*, commit: bool) -> usecases.RaterAccess:
        async with ratings.runtime.uow() as uow:
            outcome = await usecases.submit_response(
                uow, token_hash=token_sha256(token), bank=BANK, now=datetime.now(UTC)
            )
            if commit:
                await uow.commit()
            return outcome

    assert (await submit(commit=False)).access is usecases.Access.ACCEPTED
    assert await outbox(ratings, "RatingSubmitted", cycle_id) == []
    assert await outbox(ratings, "ResponseReceived", cycle_id) == [], "rolled back with the answers"
    assert (await submit(commit=True)).access is usecases.Access.ACCEPTED

    (rating,) = await outbox(ratings, "RatingSubmitted", cycle_id)
    (fact,) = await outbox(ratings, "ResponseReceived", cycle_id)
    envelope = {"event_id", "event_type", "schema_version", "occurred_at", "correlation_id", "producer"}
    assert set(fact) == envelope | {"cycle_id", "rater_id", "group"}, "the fact only: no answers, no comments"
    assert (
        (fact["rater_id"], fact["group"])
        == (rating["rater_id"], rating["group"])
        == (
            str(rater.rater_id),
            "direct_report",
        )
    )
    assert fact["event_id"] != rating["event_id"] and fact["correlation_id"] == rating["correlation_id"]
    async with ratings.runtime.uow() as uow:
        rows = await uow.session.exec(
            select(OutboxMessage.event_type, OutboxMessage.topic).where(col(OutboxMessage.key) == str(cycle_id))
        )
        topics = dict(rows.all())
    assert topics["ResponseReceived"] == topic_for(ResponseReceived) != topics["RatingSubmitted"]
    assert (await submit(commit=True)).access is usecases.Access.SUBMITTED, "a second send emits nothing"
    assert len(await outbox(ratings, "ResponseReceived", cycle_id)) == 1


async def test_the_deadline_closes_a_cycle_also_when_it_passed_while_the_service_was_down(
    settings: StackSettings,
) -> None:
    async with running_service("ratings", settings, deadline_check_seconds=0.2) as service:
        cycle_id = uuid4()
        cycle = opened(cycle_id, invited={RaterGroup.PEER: 1, RaterGroup.SELF: 1})
        rater, token = nominated(cycle_id, RaterGroup.PEER)
        await publish(service, cycle, rater)
        await link_ready(service, token)
        await answer_questionnaire(service.client, f"{BASE}/r/{token}", rng=random.Random(3), leaning=3)
        extension = await move_deadline(service, cycle_id, seconds=2)
        await service.runtime.stop()  # the service goes down before the deadline
        assert datetime.now(UTC) < extension.deadline
        await asyncio.sleep((extension.deadline - datetime.now(UTC)).total_seconds() + 0.5)

        # The same service again: its consumer groups go on from their committed offsets and its inbox
        # knows what it applied. Under other groups it would replay every topic, in no set order.
        restarted = create_app(settings_of(service))
        async with (
            AsyncExitStack() as stack,
            TopicReader(settings.hlm360_kafka_bootstrap_servers, topic_for(CycleClosed)) as reader,
        ):
            await stack.enter_async_context(restarted.router.lifespan_context(restarted))
            runtime = restarted.state.runtime
            emitted = await eventually(
                lambda: outbox_event_ids(runtime, "CycleClosed", cycle_id), what="CycleClosed emitted after the restart"
            )
            # other in-process ratings services see the same events: pick this one's by its event id
            event_id = str(emitted[0]).encode()
            records = await reader.wait_for(lambda r: keyed(cycle_id)(r) and event_id in r.value)
            await caught_up(runtime)
            applied = await times_applied(runtime, cycle.event_id, rater.event_id, extension.event_id)
        closed = json.loads(records[0].value)
        assert len(emitted) == 1
        assert closed["reason"] == "deadline_passed"
        assert closed["responses_per_group"] == {"self": 0, "peer": 1}
        assert applied == {cycle.event_id: 1, rater.event_id: 1, extension.event_id: 1}, "a restart applies none again"


def settings_of(service: ServiceUnderTest) -> Settings:
    settings = service.runtime.settings
    assert isinstance(settings, Settings)
    return settings


async def outbox_event_ids(runtime: ServiceRuntime, event_type: str, key: UUID) -> list[UUID]:
    async with runtime.uow() as uow:
        rows = await uow.session.exec(
            select(OutboxMessage.event_id).where(
                col(OutboxMessage.event_type) == event_type, col(OutboxMessage.key) == str(key)
            )
        )
        return list(rows.all())


async def caught_up(runtime: ServiceRuntime) -> None:
    """Wait until every consumer group of `runtime` has read all there is on its topic."""
    lag = ConsumerLag(client_options(runtime.settings), runtime.consumers.groups, runtime.metrics)

    async def drained() -> bool:
        return not any((await lag.sample()).values())

    try:
        # after a whole tier the topics hold every earlier test's events: allow for reading them (see link_ready)
        await eventually(drained, timeout=240, what="the consumers have read every topic")
    finally:
        await lag.close()


async def times_applied(runtime: ServiceRuntime, *event_ids: UUID) -> dict[UUID, int]:
    """How many times each event was applied in the service's database (its inbox rows, any consumer)."""
    async with runtime.uow() as uow:
        rows = await uow.session.exec(
            select(ProcessedEvent.event_id, func.count())
            .where(col(ProcessedEvent.event_id).in_(event_ids))
            .group_by(col(ProcessedEvent.event_id))
        )
        return dict(rows.all())


async def test_a_deadline_extension_keeps_an_open_cycle_open_and_never_reopens_a_closed_one(
    ratings: ServiceUnderTest,
) -> None:
    extended, too_late = uuid4(), uuid4()
    soon = datetime.now(UTC) + timedelta(seconds=6)
    later = datetime.now(UTC) + timedelta(days=2)
    await publish(
        ratings,
        opened(extended, invited={RaterGroup.PEER: 3}, deadline=soon),
        opened(too_late, invited={RaterGroup.PEER: 3}, deadline=datetime.now(UTC) - timedelta(seconds=1)),
    )
    await wait_for_state(ratings, extended, lambda s: True, what="cycle recorded")
    await publish(ratings, CycleDeadlineExtended(producer="itest", cycle_id=extended, deadline=later))
    await wait_for_state(
        ratings, extended, lambda s: datetime.fromisoformat(s["deadline"]) == later, what="deadline extended"
    )
    await wait_for_state(ratings, too_late, lambda s: s["status"] == "closed", what="past deadline closes")
    await publish(ratings, CycleDeadlineExtended(producer="itest", cycle_id=too_late, deadline=later))
    await asyncio.sleep(max((soon - datetime.now(UTC)).total_seconds(), 0) + 1.0)  # past the old deadline

    state = await cycle_state(ratings, extended)
    assert state is not None and state["status"] == "open"

    async def extension_consumed() -> bool:
        async with ratings.runtime.uow() as uow:
            found = await uow.session.execute(text("SELECT count(*) FROM inbox WHERE consumer LIKE '%extend-deadline'"))
            return int(found.scalar_one()) >= 2

    await eventually(extension_consumed, what="second extension processed")
    closed = await cycle_state(ratings, too_late)
    assert closed is not None and closed["status"] == "closed"
    assert datetime.fromisoformat(closed["deadline"]) < datetime.now(UTC)


# --- withdrawals, replacements, redeliveries ---------------------------------------------------


async def test_a_withdrawn_link_stops_working_and_its_replacement_is_awaited(ratings: ServiceUnderTest) -> None:
    cycle_id = uuid4()
    (bounced, bounced_token), (peer, peer_token) = (
        nominated(cycle_id, RaterGroup.PEER),
        nominated(cycle_id, RaterGroup.PEER),
    )
    await publish(ratings, opened(cycle_id, invited={RaterGroup.PEER: 2}), bounced, peer)
    await link_ready(ratings, bounced_token)
    await link_ready(ratings, peer_token)
    await ratings.client.post(f"/r/{bounced_token}/1", data=complete_page(1))

    await publish(
        ratings,
        RaterWithdrawn(
            producer="itest", cycle_id=cycle_id, rater_id=bounced.rater_id, group=RaterGroup.PEER, reason="bounced"
        ),
    )
    await wait_for_state(ratings, cycle_id, lambda s: s["expected"] == 1, what="withdrawal counted")
    revoked = await ratings.client.get(f"/r/{bounced_token}")
    assert revoked.status_code == 410 and "no longer active" in revoked.text
    assert await drafts(ratings, bounced_token) == 0

    replacement, replacement_token = nominated(cycle_id, RaterGroup.PEER, replaces=bounced.rater_id)
    await publish(ratings, replacement)
    await wait_for_state(ratings, cycle_id, lambda s: s["expected"] == 2, what="replacement awaited")
    await link_ready(ratings, replacement_token)
    await answer_questionnaire(ratings.client, f"{BASE}/r/{peer_token}", rng=random.Random(4), leaning=4)
    assert (await cycle_state(ratings, cycle_id) or {})["status"] == "open"
    await answer_questionnaire(ratings.client, f"{BASE}/r/{replacement_token}", rng=random.Random(5), leaning=4)

    state = await wait_for_state(ratings, cycle_id, lambda s: s["status"] == "closed", what="closed")
    assert (state["close_reason"], state["responded_per_group"]) == ("all_responded", {"peer": 2})


async def test_a_rater_nominated_again_with_a_new_link_keeps_their_draft_and_loses_the_old_link(
    ratings: ServiceUnderTest,
) -> None:
    """invitations re-keyed the rater's link after its secret was retired (docs/adr/0012)."""
    cycle_id = uuid4()
    rater, old_token = nominated(cycle_id, RaterGroup.PEER)
    await publish(ratings, opened(cycle_id, invited={RaterGroup.PEER: 3}), rater)
    await link_ready(ratings, old_token)
    assert (await ratings.client.post(f"/r/{old_token}/1", data=complete_page(1))).status_code == 303

    new_token = secrets.token_urlsafe(32)
    await publish(ratings, rater.model_copy(update={"event_id": uuid4(), "link_token_sha256": token_sha256(new_token)}))
    await link_ready(ratings, new_token)
    async with client_of_its_own(ratings) as client:
        assert (await client.get(f"/r/{old_token}")).status_code == 404
    resumed = await ratings.client.get(f"/r/{new_token}")
    assert "Continue where you left off" in resumed.text and f'href="/r/{new_token}/2"' in resumed.text
    assert await drafts(ratings, old_token) == 0 and await drafts(ratings, new_token) == 1
    state = await cycle_state(ratings, cycle_id) or {}
    assert state["expected"] == 3 and state["status"] == "open"


async def test_withdrawing_the_last_awaited_rater_closes_the_cycle(ratings: ServiceUnderTest) -> None:
    cycle_id = uuid4()
    (done, token), (silent, _) = nominated(cycle_id, RaterGroup.PEER), nominated(cycle_id, RaterGroup.OTHER)
    await publish(ratings, opened(cycle_id, invited={RaterGroup.PEER: 1, RaterGroup.OTHER: 1}), done, silent)
    await link_ready(ratings, token)
    await answer_questionnaire(ratings.client, f"{BASE}/r/{token}", rng=random.Random(6), leaning=3)
    await publish(
        ratings,
        RaterWithdrawn(
            producer="itest", cycle_id=cycle_id, rater_id=silent.rater_id, group=RaterGroup.OTHER, reason="removed"
        ),
    )

    state = await wait_for_state(ratings, cycle_id, lambda s: s["status"] == "closed", what="closed")
    assert state["close_reason"] == "all_responded"


async def test_redelivered_events_change_nothing(ratings: ServiceUnderTest) -> None:
    cycle_id = uuid4()
    rater, token = nominated(cycle_id, RaterGroup.PEER)
    other, _ = nominated(cycle_id, RaterGroup.PEER)
    cycle = opened(cycle_id, invited={RaterGroup.PEER: 3})
    later = datetime.now(UTC) + timedelta(days=3)
    extension = CycleDeadlineExtended(producer="itest", cycle_id=cycle_id, deadline=later)
    withdrawal = RaterWithdrawn(
        producer="itest", cycle_id=cycle_id, rater_id=other.rater_id, group=RaterGroup.PEER, reason="removed"
    )
    replacement, _ = nominated(cycle_id, RaterGroup.PEER, replaces=other.rater_id)
    for _ in range(2):
        await publish(ratings, cycle, rater, other, extension, withdrawal, replacement)
    await wait_for_state(ratings, cycle_id, lambda s: s["expected"] == 3, what="events applied")
    close = CycleCloseRequested(producer="itest", cycle_id=cycle_id, requested_by="admin")
    await link_ready(ratings, token)
    await fill_every_page(ratings, token)
    await ratings.client.post(f"/r/{token}/check")
    await publish(ratings, close, close)
    state = await wait_for_state(ratings, cycle_id, lambda s: s["status"] == "closed", what="closed")

    async def inbox_count() -> int:
        async with ratings.runtime.uow() as uow:
            ids = [str(e.event_id) for e in (cycle, rater, other, extension, withdrawal, replacement, close)]
            found = await uow.session.execute(
                text("SELECT count(*) FROM inbox WHERE event_id::text = ANY(:ids)"), {"ids": ids}
            )
            return int(found.scalar_one())

    assert await inbox_count() == 7  # each applied once, by exactly one consumer
    assert datetime.fromisoformat(state["deadline"]) == later
    assert (state["expected"], state["responded_per_group"], state["close_reason"]) == (3, {"peer": 1}, "closed_early")
    assert len(await outbox(ratings, "CycleClosed", cycle_id)) == 1
    assert len(await outbox(ratings, "RatingSubmitted", cycle_id)) == 1


async def test_a_concurrent_duplicate_submission_counts_exactly_once(
    ratings: ServiceUnderTest, settings: StackSettings
) -> None:
    cycle_id = uuid4()
    rater, token = nominated(cycle_id, RaterGroup.LINE_MANAGER)
    await publish(ratings, opened(cycle_id, invited={RaterGroup.LINE_MANAGER: 1, RaterGroup.PEER: 3}), rater)
    await link_ready(ratings, token)
    await fill_every_page(ratings, token)

    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, topic_for(RatingSubmitted)) as reader:
        responses = await asyncio.gather(*(ratings.client.post(f"/r/{token}/check") for _ in range(5)))
        await reader.wait_for(keyed(cycle_id))
        await asyncio.sleep(1.0)
        published = [r for r in await reader.poll() if keyed(cycle_id)(r)]

    codes = sorted(r.status_code for r in responses)
    assert codes == [303, 409, 409, 409, 409]
    assert all("already given feedback" in r.text for r in responses if r.status_code == 409)
    assert len(published) == 1
    assert len(await outbox(ratings, "RatingSubmitted", cycle_id)) == 1
    assert len(await outbox(ratings, "ResponseReceived", cycle_id)) == 1
    state = await cycle_state(ratings, cycle_id)
    assert state is not None and state["responded_per_group"]["line_manager"] == 1


# --- the journey over HTTP ---------------------------------------------------------------------


async def test_a_draft_is_saved_on_every_page_and_resumes_where_the_rater_left_off(ratings: ServiceUnderTest) -> None:
    cycle_id = uuid4()
    rater, token = nominated(cycle_id, RaterGroup.DIRECT_REPORT)
    await publish(ratings, opened(cycle_id, invited={RaterGroup.DIRECT_REPORT: 3}), rater)
    await link_ready(ratings, token)

    partial = complete_page(2) | {"item:LWC-X": "", "comment:leading_with_care_comment": "x" * 5001}
    del partial["item:LWC-X"]
    await ratings.client.post(f"/r/{token}/1", data=complete_page(1))
    refused = await ratings.client.post(f"/r/{token}/2", data=partial)
    start = await ratings.client.get(f"/r/{token}")  # e.g. later, on another device
    page_two = await ratings.client.get(f"/r/{token}/2")
    check = await ratings.client.get(f"/r/{token}/check")
    submit = await ratings.client.post(f"/r/{token}/check")

    assert refused.status_code == 400 and "There is a problem" in refused.text
    assert 'href="#item-LWC-X-1"' in refused.text and "5,000 characters or fewer" in refused.text
    assert "x" * 5001 in refused.text  # nothing typed is lost
    assert "Continue where you left off" in start.text and f'href="/r/{token}/2"' in start.text
    assert 'id="item-LWC-E-4" name="item:LWC-E" type="radio" value="4" checked' in page_two.text
    assert "x" * 5001 in page_two.text
    assert check.status_code == 200 and "Not answered" in check.text
    assert submit.status_code == 400 and f'href="/r/{token}/2?return=check#item-LWC-X-1"' in submit.text
    assert await drafts(ratings, token) == 1


async def test_unknown_links_are_rate_limited_per_client_but_valid_links_keep_working(
    ratings: ServiceUnderTest,
) -> None:
    cycle_id = uuid4()
    rater, token = nominated(cycle_id, RaterGroup.PEER)
    await publish(ratings, opened(cycle_id, invited={RaterGroup.PEER: 3}), rater)
    await link_ready(ratings, token)
    strict = Settings(database_url="postgresql://u:s3cret-for-test@h/d", unknown_link_limit=3)  # type: ignore[arg-type]
    ratings.app.dependency_overrides[limits_of] = lambda: Limits.of(strict, ratings.runtime.counters)
    try:
        async with client_of_its_own(ratings) as client:
            codes = [(await client.get(f"/r/{secrets.token_urlsafe(32)}/1")).status_code for _ in range(4)]
            limited = await client.get("/r/guess")
            valid = await client.get(f"/r/{token}")
            too_long = await client.get(f"/r/{'x' * 300}")
        async with client_of_its_own(ratings) as elsewhere:
            elsewhere_unknown = await elsewhere.get("/r/guess")
    finally:
        ratings.app.dependency_overrides.pop(limits_of)

    assert codes == [404, 404, 404, 429]
    assert limited.status_code == 429 and "Too many unrecognised links" in limited.text
    assert limited.headers["retry-after"] == "60"
    assert valid.status_code == 200
    assert too_long.status_code == 429
    assert elsewhere_unknown.status_code == 404, "per client address"


async def test_the_self_assessment_sends_answers_to_a_private_report_and_keeps_nothing(
    ratings: ServiceUnderTest, settings: StackSettings
) -> None:
    started = await ratings.client.post("/self-assessment")
    assert started.status_code == 303
    first = started.headers["location"]
    token = first.split("/")[2]
    for page in [*range(1, 10), "comments"]:
        saved = await ratings.client.post(f"/self-assessment/{token}/{page}", data=complete_page(page))
        assert saved.status_code == 303
    check = await ratings.client.get(f"/self-assessment/{token}/check")
    assert "I act in line with NHS values" in check.text and "Finish and see my report" in check.text

    async with TopicReader(settings.hlm360_kafka_bootstrap_servers, topic_for(SelfAssessmentCompleted)) as reader:
        finished = await ratings.client.post(f"/self-assessment/{token}/check")
        location = finished.headers["location"]
        prefix = f"{ratings.app.state.settings.reports_public_url.rstrip('/')}/report/self-assessment/"
        assert finished.status_code == 303 and location.startswith(prefix)
        assessment_id, access_token = location.removeprefix(prefix).split("/")
        records = await reader.wait_for(lambda r: r.key == assessment_id.encode())

    event = json.loads(records[0].value)
    assert event["access_token_sha256"] == hashlib.sha256(access_token.encode()).hexdigest()
    assert access_token != token and len(access_token) >= 43
    assert event["questionnaire_version"] == BANK.version and len(event["answers"]) == 36
    assert {i["dimension"] for i in event["importance"]} == {d.value for d in Dimension}
    assert await drafts(ratings, token) == 0
    async with client_of_its_own(ratings) as client:
        gone = await client.get(f"/self-assessment/{token}/check")
    assert gone.status_code == 404 and "Start a new self-assessment" in gone.text
