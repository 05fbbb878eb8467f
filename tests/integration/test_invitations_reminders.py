"""Emails after the invitations: reminders only to people who have not answered or declined,
each stage once, surviving restarts, one consolidated reminder per person; thank-you,
cycle-closed and report-ready emails; bounces and declines leading to replacements, and a
replacement line manager announced to scheduling as ManagementLineChanged."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import pytest

from shared.contracts.events import (
    CycleClosed,
    ManagementLineChanged,
    RaterDeclined,
    RatingSubmitted,
    ReportReleased,
    ResponseReceived,
)
from shared.contracts.topics import topic_for
from shared.contracts.vocabulary import CloseReason, RaterGroup
from tests.config import StackSettings
from tests.integration.conftest import ServiceUnderTest, running_service
from tests.integration.test_invitations_support import (
    fast,
    fresh_database,
    link_token,
    post_cycle,
    publish,
    request,
    rows,
    service_on,
    smtp_capture,
)
from tests.support import TopicReader, eventually


async def rater_id(service: ServiceUnderTest, cycle_id: uuid.UUID, address: str) -> uuid.UUID:
    [row] = await rows(
        service,
        "SELECT id FROM invitations.rater WHERE cycle_id = :c AND lower(email) = :e",
        c=cycle_id,
        e=address.lower(),
    )
    return uuid.UUID(str(row.id))


def submitted(cycle_id: uuid.UUID, rater: uuid.UUID, group: RaterGroup) -> ResponseReceived:
    """What invitations learns of a response: the fact alone (issue 12: never the answers)."""
    return ResponseReceived(producer="ratings", cycle_id=cycle_id, rater_id=rater, group=group)


async def all_invited(service: ServiceUnderTest, cycle_ids: list[uuid.UUID]) -> None:
    async def probe() -> bool:
        pending = await rows(
            service,
            "SELECT 1 FROM invitations.rater WHERE cycle_id = ANY(:ids) AND status = 'nominated'",
            ids=cycle_ids,
        )
        return not pending

    await eventually(probe, timeout=60, what="every invitation sent")


async def test_reminders_go_once_to_the_right_people_consolidated_and_survive_restarts(
    settings: StackSettings,
) -> None:
    shared_peer = f"shared.{uuid.uuid4().hex[:8]}@example.nhs.uk"
    a, b = request(days=3), request(days=1.5)  # A: 7-day stage due; B: 7- and 2-day stages both due
    far = request(days=20)  # no stage due yet
    for event in (a, b):
        event.raters[3] = event.raters[3].model_copy(update={"email": shared_peer, "name": "Shared Peer"})
    group = f"itest-invitations-restart-{uuid.uuid4().hex[:8]}"
    async with smtp_capture() as (mail, port), fresh_database(settings) as database:
        quiet = fast(smtp_port=port, reminder_poll_seconds=3600.0)
        async with service_on(database, settings, group=group, **quiet) as service:
            a, b, far = [await post_cycle(service.client, event) for event in (a, b, far)]
            await all_invited(service, [a.cycle_id, b.cycle_id, far.cycle_id])
            answered = str(a.raters[1].email)
            declined = str(a.raters[2].email)
            answered_id = await rater_id(service, a.cycle_id, answered)
            declined_id = await rater_id(service, a.cycle_id, declined)
            await publish(
                settings,
                submitted(a.cycle_id, answered_id, RaterGroup.PEER),
                RaterDeclined(
                    producer="ratings",
                    cycle_id=a.cycle_id,
                    rater_id=declined_id,
                    group=RaterGroup.PEER,
                    reason="On leave until March",
                ),
            )

            async def recorded() -> bool:
                found = await rows(
                    service,
                    "SELECT status FROM invitations.rater WHERE id = ANY(:ids) ORDER BY status",
                    ids=[answered_id, declined_id],
                )
                return [r.status for r in found] == ["declined", "submitted"]

            await eventually(recorded, timeout=60, what="submission and decline recorded")
            assert not [r for r in mail.received if r.kind == "reminder"], "the planner had not run yet"

        expected = (
            {str(r.email).lower() for r in (*a.raters, *b.raters)}
            | {str(a.participant.email).lower(), str(b.participant.email).lower()}
        ) - {answered, declined}
        async with service_on(database, settings, group=group, **fast(smtp_port=port)) as service:

            async def reminded() -> set[str] | None:
                got = {r.to for r in mail.received if r.kind == "reminder"}
                return got if got >= expected else None

            await eventually(reminded, timeout=60, what="reminders after the restart")
            [both] = mail.to(shared_peer, "reminder")
            names = [f"{e.participant.given_name} {e.participant.family_name}" for e in (a, b)]
            assert "your feedback is still needed for 2 Healthcare Leadership Model 360s" in both.text
            assert both.text.count("/r/") == 2 and all(n in both.text for n in names)
            stages = await rows(
                service,
                "SELECT r.stage_days, r.email_id FROM invitations.reminder r JOIN "
                "invitations.rater t ON t.id = r.rater_id WHERE lower(t.email) = :e "
                "ORDER BY stage_days",
                e=shared_peer,
            )
            assert [s.stage_days for s in stages] == [2, 7, 7] and len({s.email_id for s in stages}) == 1
            one = mail.to(str(a.raters[0].email), "reminder")[0].text
            for leak in ("responded", "submitted", "declined", "Peer 1", "Peer 2"):
                assert leak not in one, f"a reminder never says who has responded ({leak})"
            assert not mail.to(answered, "reminder") and not mail.to(declined, "reminder")
            assert not any(
                r.to in {str(x.email).lower() for x in far.raters} for r in mail.received if r.kind == "reminder"
            )

        late = request(days=3)
        async with service_on(database, settings, group=group, **fast(smtp_port=port)) as service:
            late = await post_cycle(service.client, late)
            manager = str(late.raters[0].email).lower()
            await eventually(
                lambda: mail.to(manager, "reminder"), timeout=60, what="the planner running after the second restart"
            )
        counts: dict[str, int] = {}
        for received in mail.received:
            if received.kind == "reminder":
                counts[received.to] = counts.get(received.to, 0) + 1
        assert {address: counts.get(address) for address in expected} == dict.fromkeys(expected, 1)


async def test_thank_you_and_cycle_closed_emails_and_release_on_the_dashboard(settings: StackSettings) -> None:
    event = request()
    async with (
        smtp_capture() as (mail, port),
        running_service("invitations", settings, **fast(smtp_port=port)) as service,
    ):
        event = await post_cycle(service.client, event)
        await all_invited(service, [event.cycle_id])
        peer = str(event.raters[1].email)
        me = str(event.participant.email)
        peer_id = await rater_id(service, event.cycle_id, peer)
        self_id = await rater_id(service, event.cycle_id, me)
        report_id = uuid.uuid4()
        await publish(
            settings,
            submitted(event.cycle_id, peer_id, RaterGroup.PEER),
            submitted(event.cycle_id, self_id, RaterGroup.SELF),
            CycleClosed(
                producer="ratings",
                cycle_id=event.cycle_id,
                reason=CloseReason.CLOSED_EARLY,
                responses_per_group={RaterGroup.SELF: 1, RaterGroup.PEER: 1},
            ),
            ReportReleased(
                producer="scheduling", cycle_id=event.cycle_id, report_id=report_id, reason="session_completed"
            ),
        )
        [thanks] = await eventually(lambda: mail.to(peer, "thank_you"), timeout=60, what="thank-you")
        assert "Thank you for giving feedback for Amara Okafor" in thanks.text
        [closed] = await eventually(lambda: mail.to(me, "cycle_closed"), timeout=60, what="closed email")
        assert "closed early, as you asked. 1 person gave feedback" in closed.text

        async def released() -> bool:
            [cycle] = await rows(
                service, "SELECT report_released_at FROM invitations.cycle WHERE id = :c", c=event.cycle_id
            )
            return cycle.report_released_at is not None

        await eventually(released, timeout=60, what="the release on the participant's dashboard")
        assert not mail.to(me, "thank_you"), "the participant is not thanked for their own rating"
        # reports emails the participant their personal report link; invitations queues no second email
        # (it would have been queued in the transaction that recorded the release)
        kinds = await rows(service, "SELECT kind FROM invitations.outgoing_email WHERE cycle_id = :c", c=event.cycle_id)
        assert "cycle_closed" in {k.kind for k in kinds} and "report_ready" not in {k.kind for k in kinds}
        again, fresh = (submitted(event.cycle_id, peer_id, RaterGroup.PEER) for _ in range(2))
        await publish(settings, again, again, fresh)  # a redelivery, and the same fact under a new event id

        async def inboxed() -> bool:
            found = await rows(
                service,
                "SELECT event_id FROM inbox WHERE consumer LIKE '%.response-received' AND event_id = ANY(:e)",
                e=[again.event_id, fresh.event_id],
            )
            return len(found) == 2

        await eventually(inboxed, timeout=60, what="the repeated fact handled")
        [state] = await rows(
            service,
            "SELECT count(*) AS n FROM invitations.outgoing_email WHERE rater_id = :r AND kind = 'thank_you'",
            r=peer_id,
        )
        assert state.n == 1
        topics = {topic.name for subscriber in service.runtime.broker.subscribers for topic in subscriber.topics}
        assert topic_for(ResponseReceived) in topics
        assert topic_for(RatingSubmitted) not in topics, "invitations knows who raters are: it never reads answers"


async def _dashboard(service: ServiceUnderTest, cycle_id: uuid.UUID) -> tuple[str, str]:
    token = link_token("participant", cycle_id)
    base = f"/p/{cycle_id}/{token}"
    return base, (await service.client.get(base)).text


async def test_bounces_and_declines_need_a_replacement_that_the_participant_can_nominate(
    settings: StackSettings,
) -> None:
    event = request()
    bounced = str(event.raters[2].email).lower()
    declined = str(event.raters[3].email).lower()
    async with (
        smtp_capture() as (mail, port),
        running_service("invitations", settings, **fast(smtp_port=port)) as service,
    ):
        mail.refuse.add(bounced)
        event = await post_cycle(service.client, event)
        bounced_id = await rater_id(service, event.cycle_id, bounced)
        declined_id = await rater_id(service, event.cycle_id, declined)

        async def bounce_recorded() -> list[Any] | None:
            found = await rows(
                service,
                "SELECT payload FROM outbox WHERE event_type = 'RaterWithdrawn' AND key = :k",
                k=str(event.cycle_id),
            )
            return found or None

        [withdrawn] = await eventually(bounce_recorded, timeout=60, what="the bounce")
        assert json.loads(withdrawn.payload)["rater_id"] == str(bounced_id)
        assert json.loads(withdrawn.payload)["reason"] == "bounced"
        [email_row] = await rows(
            service,
            "SELECT attempts, gave_up_at, sent_at FROM invitations.outgoing_email WHERE rater_id = :r",
            r=bounced_id,
        )
        assert email_row.attempts == 1 and email_row.gave_up_at and email_row.sent_at is None, "5xx is not retried"
        await publish(
            settings,
            RaterDeclined(
                producer="ratings",
                cycle_id=event.cycle_id,
                rater_id=declined_id,
                group=RaterGroup.PEER,
                reason="Too busy this month",
            ),
        )

        async def both_shown() -> str | None:
            _, page = await _dashboard(service, event.cycle_id)
            return page if "Too busy this month" in page and "could not be delivered" in page else None

        page = await eventually(both_shown, timeout=60, what="needs a replacement on the dashboard")
        assert "Needs a replacement" in page
        base, _ = await _dashboard(service, event.cycle_id)

        taken = await service.client.post(
            f"{base}/replace/{bounced_id}", data={"name": "Someone", "email": str(event.raters[4].email)}
        )
        assert taken.status_code == 422 and "already been nominated" in taken.text
        # issue 12: the same mailbox in another case or with a +tag, the participant's own, a consumer domain
        local, _, domain = str(event.raters[4].email).partition("@")
        own_local, _, own_domain = str(event.participant.email).partition("@")
        for attack, expected in (
            (f"{local.upper()}+again@{domain.upper()}", "That person has already been nominated for this 360"),
            (f"{own_local.title()}+peer@{own_domain}", "This is the participant"),
            (f"{own_local}@nhs.net", "This is the participant"),
            (f"friend.{uuid.uuid4().hex[:8]}@gmail.com", "Use their work email address: it must end @nhs.net"),
        ):
            refused = await service.client.post(f"{base}/replace/{bounced_id}", data={"name": "Alias", "email": attack})
            assert refused.status_code == 422 and expected in refused.text, (attack, refused.text)
            assert 'href="#email"' in refused.text and 'value="Alias"' in refused.text
        assert (
            len(await rows(service, "SELECT 1 FROM invitations.rater WHERE cycle_id = :c", c=event.cycle_id))
            == len(event.raters) + 1
        ), "no attack added a rater"
        malformed = await service.client.post(f"{base}/replace/{bounced_id}", data={"name": "Kim", "email": "kim@"})
        assert malformed.status_code == 422 and 'value="kim@"' in malformed.text and 'href="#email"' in malformed.text

        new_peers = {}
        for old_id, label in ((bounced_id, "fixed"), (declined_id, "instead")):
            address = f"{label}.{uuid.uuid4().hex[:8]}@example.nhs.uk"
            done = await service.client.post(
                f"{base}/replace/{old_id}", data={"name": f"Kim {label}", "email": address}
            )
            assert done.status_code == 303, done.text
            new_peers[old_id] = address

        async def new_peers_invited() -> bool:
            return all(mail.to(address, "invitation") for address in new_peers.values())

        await eventually(new_peers_invited, timeout=60, what="invitations to the new raters")
        nominated = [
            json.loads(r.payload)
            for r in await rows(
                service,
                "SELECT payload FROM outbox WHERE event_type = 'RaterNominated' AND key = :k",
                k=str(event.cycle_id),
            )
        ]
        replacing = {n["replaces_rater_id"]: n for n in nominated if n.get("replaces_rater_id")}
        assert set(replacing) == {str(bounced_id), str(declined_id)}
        assert all(n["group"] == "peer" for n in replacing.values())
        withdrawals = [
            json.loads(r.payload)
            for r in await rows(
                service,
                "SELECT payload FROM outbox WHERE event_type = 'RaterWithdrawn' AND key = :k",
                k=str(event.cycle_id),
            )
        ]
        assert sorted((w["rater_id"], w["reason"]) for w in withdrawals) == sorted(
            [(str(bounced_id), "bounced"), (str(declined_id), "replaced")]
        )
        _, page = await _dashboard(service, event.cycle_id)
        assert "Needs a replacement" not in page
        assert (await service.client.get(f"{base}/replace/{bounced_id}")).status_code == 404


async def test_a_replacement_line_manager_is_announced_once_with_the_whole_line_and_a_replaced_peer_is_not(
    settings: StackSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="invitations")
    tag = uuid.uuid4().hex[:8]
    event = request(tag=tag)
    director = f"director.{tag}@example.nhs.uk"  # the requested line
    manager = str(next(r for r in event.raters if r.group is RaterGroup.LINE_MANAGER).email)
    peer = str(next(r for r in event.raters if r.group is RaterGroup.PEER).email)
    kim = f"Kim.Manager.{tag}@Example.NHS.uk"

    async def decline(service: ServiceUnderTest, address: str, group: RaterGroup) -> uuid.UUID:
        declined_id = await rater_id(service, event.cycle_id, address)
        await publish(
            settings,
            RaterDeclined(
                producer="ratings", cycle_id=event.cycle_id, rater_id=declined_id, group=group, reason="On leave"
            ),
        )

        async def recorded() -> bool:
            return bool(
                await rows(
                    service, "SELECT 1 FROM invitations.rater WHERE id = :r AND status = 'declined'", r=declined_id
                )
            )

        await eventually(recorded, timeout=60, what="the decline")
        return declined_id

    async def line_changes(service: ServiceUnderTest) -> list[dict[str, Any]]:
        return [
            json.loads(r.payload)
            for r in await rows(
                service,
                "SELECT payload FROM outbox WHERE event_type = 'ManagementLineChanged' AND key = :k",
                k=str(event.cycle_id),
            )
        ]

    async with (
        smtp_capture() as (_, port),
        running_service("invitations", settings, **fast(smtp_port=port)) as service,
        TopicReader(settings.hlm360_kafka_bootstrap_servers, topic_for(ManagementLineChanged)) as reader,
    ):
        event = await post_cycle(service.client, event)
        base, _ = await _dashboard(service, event.cycle_id)

        peer_id = await decline(service, peer, RaterGroup.PEER)
        replaced = await service.client.post(
            f"{base}/replace/{peer_id}", data={"name": "New Peer", "email": f"new.peer.{tag}@example.nhs.uk"}
        )
        assert replaced.status_code == 303, replaced.text
        assert await line_changes(service) == [], "a peer is not in the management line"

        manager_id = await decline(service, manager, RaterGroup.LINE_MANAGER)
        replaced = await service.client.post(f"{base}/replace/{manager_id}", data={"name": "Kim", "email": kim})
        assert replaced.status_code == 303, replaced.text
        [changed] = await line_changes(service)
        assert changed["management_line"] == [director, manager.casefold(), kim.casefold()], (
            "the request's line, the line manager replaced (still in the line), then the new one"
        )
        assert changed["producer"] == "invitations" and changed["cycle_id"] == str(event.cycle_id)

        # Someone already in the line as the new line manager changes nothing: no second event.
        kim_id = await decline(service, kim, RaterGroup.LINE_MANAGER)
        replaced = await service.client.post(
            f"{base}/replace/{kim_id}", data={"name": "The Director", "email": director.upper()}
        )
        assert replaced.status_code == 303, replaced.text
        assert len(await line_changes(service)) == 1

        [record] = await reader.wait_for(lambda r: r.key == str(event.cycle_id).encode())
        assert json.loads(record.value)["event_id"] == changed["event_id"]
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records).casefold()
    assert any(r.getMessage() == "rater replaced" for r in caplog.records), "the service's logs were captured"
    for address in (director, manager, kim, peer):
        assert address.casefold() not in logged


async def test_participant_extends_the_deadline_and_closes_early(settings: StackSettings) -> None:
    event = request(days=10)
    async with running_service("invitations", settings, **fast()) as service:
        event = await post_cycle(service.client, event)
        base, page = await _dashboard(service, event.cycle_id)
        assert "Responses so far" in page and "Peers" in page
        later = event.deadline.date().toordinal() + 7
        from datetime import date

        day = date.fromordinal(later)
        too_late = date.fromordinal(later + 60)
        refused = await service.client.post(
            f"{base}/deadline",
            data={
                "deadline_day": str(too_late.day),
                "deadline_month": str(too_late.month),
                "deadline_year": str(too_late.year),
            },
        )
        assert refused.status_code == 422 and "at most 28 days past the original deadline" in refused.text
        assert f'value="{too_late.year}"' in refused.text
        nonsense = await service.client.post(
            f"{base}/deadline", data={"deadline_day": "31", "deadline_month": "2", "deadline_year": "2030"}
        )
        assert nonsense.status_code == 422 and "real date" in nonsense.text
        moved = await service.client.post(
            f"{base}/deadline",
            data={"deadline_day": str(day.day), "deadline_month": str(day.month), "deadline_year": str(day.year)},
        )
        assert moved.status_code == 303
        closed = await service.client.post(f"{base}/close")
        assert closed.status_code == 303
        events = {
            r.event_type: json.loads(r.payload)
            for r in await rows(service, "SELECT event_type, payload FROM outbox WHERE key = :k", k=str(event.cycle_id))
        }
        assert events["CycleDeadlineExtended"]["deadline"].startswith(day.isoformat())
        assert events["CycleCloseRequested"]["requested_by"] == "participant"
        _, page = await _dashboard(service, event.cycle_id)
        assert "Closing" in page and "Change the deadline" not in page
