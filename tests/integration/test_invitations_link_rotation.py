"""Rotating invitations' link secret (docs/adr/0012): with the old secret still accepted as a previous
one, nothing changes for anyone (a reminder carries the very link the invitation did, and the
participant's link still opens); once the old secret is removed, the participant's old link stops
working and a rater whose token was derived with it is re-keyed: their next reminder carries a link
derived with the new secret, announced to ratings in a second RaterNominated for the same rater."""

from __future__ import annotations

import json
import re
import uuid

from invitations.links import purpose_token
from shared.links import SigningKeys, key_id, token_sha256
from tests.config import StackSettings
from tests.integration.conftest import ServiceUnderTest
from tests.integration.test_invitations_reminders import all_invited, rater_id
from tests.integration.test_invitations_support import (
    CaptureHandler,
    Received,
    fast,
    fresh_database,
    in_a_day,
    post_cycle,
    request,
    rows,
    service_on,
    smtp_capture,
)
from tests.support import eventually

OLD = "rotation-old-link-secret-" + "o" * 40
NEW = "rotation-new-link-secret-" + "n" * 40


def rater_token(received: Received) -> str:
    [token] = re.findall(r"/r/([A-Za-z0-9_-]+)", received.text)
    return token


async def nominations(service: ServiceUnderTest, rater: uuid.UUID) -> list[str]:
    """The link token hashes announced for this rater, oldest first."""
    found = await rows(service, "SELECT payload FROM outbox WHERE event_type = 'RaterNominated' ORDER BY id")
    events = [json.loads(row.payload) for row in found]
    return [e["link_token_sha256"] for e in events if e["rater_id"] == str(rater)]


async def link_key(service: ServiceUnderTest, rater: uuid.UUID) -> str | None:
    [row] = await rows(service, "SELECT link_key_id FROM invitations.rater WHERE id = :r", r=rater)
    return row.link_key_id  # type: ignore[no-any-return]


async def reminder(mail: CaptureHandler, address: str, count: int) -> Received:
    reminders = await eventually(
        lambda: (found := mail.to(address, "reminder")) and len(found) >= count and found,
        timeout=60,
        what=f"reminder {count}",
    )
    return reminders[count - 1]  # type: ignore[no-any-return]


async def dashboard_status(service: ServiceUnderTest, cycle_id: uuid.UUID, secret: str) -> int:
    token = purpose_token(SigningKeys(secret.encode()), "participant", cycle_id, expires_at=in_a_day())
    return (await service.client.get(f"/p/{cycle_id}/{token}")).status_code


async def test_rotating_the_link_secret_keeps_links_until_the_old_secret_is_removed(settings: StackSettings) -> None:
    event = request(days=1.5)  # the 7-day and 2-day reminder stages are both due
    peer = str(event.raters[1].email).lower()
    group = f"itest-invitations-rotation-{uuid.uuid4().hex[:8]}"
    async with smtp_capture() as (mail, port), fresh_database(settings) as database:
        quiet = fast(smtp_port=port, link_secret=OLD, reminder_poll_seconds=3600.0)
        async with service_on(database, settings, group=group, **quiet) as service:
            event = await post_cycle(service.client, event)
            await all_invited(service, [event.cycle_id])
            peer_id = await rater_id(service, event.cycle_id, peer)
            [invitation] = mail.to(peer, "invitation")
            sent = rater_token(invitation)
            assert await nominations(service, peer_id) == [token_sha256(sent)]
            assert await link_key(service, peer_id) == key_id(OLD.encode())

        rotated = fast(smtp_port=port, link_secret=NEW, link_secrets_previous=[OLD], reminder_days_before=[7])
        async with service_on(database, settings, group=group, **rotated) as service:
            assert rater_token(await reminder(mail, peer, 1)) == sent, "the link ratings knows, still"
            assert await nominations(service, peer_id) == [token_sha256(sent)]
            assert await link_key(service, peer_id) == key_id(OLD.encode())
            assert await dashboard_status(service, event.cycle_id, OLD) == 200
            assert await dashboard_status(service, event.cycle_id, NEW) == 200

        retired = fast(smtp_port=port, link_secret=NEW, reminder_days_before=[2])
        async with service_on(database, settings, group=group, **retired) as service:
            rekeyed = rater_token(await reminder(mail, peer, 2))
            assert rekeyed != sent
            assert await nominations(service, peer_id) == [token_sha256(sent), token_sha256(rekeyed)]
            assert await link_key(service, peer_id) == key_id(NEW.encode())
            assert await dashboard_status(service, event.cycle_id, OLD) == 404
            assert await dashboard_status(service, event.cycle_id, NEW) == 200
            # the participant's own rating link on their dashboard is re-keyed too (at most once)
            me = await rater_id(service, event.cycle_id, str(event.participant.email))
            token = purpose_token(SigningKeys(NEW.encode()), "participant", event.cycle_id, expires_at=in_a_day())
            page = (await service.client.get(f"/p/{event.cycle_id}/{token}")).text
            [self_link] = re.findall(r'href="[^"]*/r/([A-Za-z0-9_-]+)"', page)
            announced = await nominations(service, me)
            assert len(announced) == 2 and announced[-1] == token_sha256(self_link)
            assert await link_key(service, me) == key_id(NEW.encode())
        assert len(mail.to(peer, "reminder")) == 2
