"""Invitations' personal links expire (docs/adr/0016): the participant's, the line manager's approval
and the confirmation link carry a signed expiry, minted when their email is sent. A fresh link opens;
one signed with a previous secret still opens until it expires; an expired one gets a 410 page
offering a new link, emailed to the address on record with the same answer whether or not anything
was sent; a link whose expiry was changed is not recognised. Expired links are signed in the past by
the test (no sleeping)."""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta

from tests.config import StackSettings
from tests.integration.conftest import ServiceUnderTest, running_service
from tests.integration.test_invitations_support import fast, link_token, post_cycle, request, rows, smtp_capture
from tests.support import eventually

OLD = "expiry-old-link-secret-" + "o" * 40
NEW = "expiry-new-link-secret-" + "n" * 40
TOKEN = r"([0-9]+\.[A-Za-z0-9_-]{43})"
ROTATED = {"link_secret": NEW, "link_secrets_previous": [OLD]}


def past() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=1)


def tampered(token: str) -> str:
    """The same signature with an expiry a year later."""
    expires, _, signature = token.partition(".")
    return f"{int(expires) + 365 * 86400}.{signature}"


def expires_in_days(token: str) -> float:
    return (int(token.partition(".")[0]) - time.time()) / 86400


async def queued(service: ServiceUnderTest, cycle_id: uuid.UUID, kind: str) -> int:
    [row] = await rows(
        service,
        "SELECT count(*) AS n FROM invitations.outgoing_email WHERE cycle_id = :c AND kind = :k",
        c=cycle_id,
        k=kind,
    )
    return int(row.n)


async def test_the_participants_link_expires_and_a_new_one_goes_to_the_address_on_record(
    settings: StackSettings,
) -> None:
    event = request()
    cycle_id, participant = event.cycle_id, str(event.participant.email).lower()
    overrides = fast(**ROTATED, new_links_per_link_per_day=2)
    async with (
        smtp_capture() as (mail, port),
        running_service("invitations", settings, **overrides, smtp_port=port) as (service),
    ):
        event = await post_cycle(service.client, event)
        cycle_id = event.cycle_id
        [invitation] = await eventually(
            lambda: mail.to(participant, "invitation_self"), timeout=30, what="the participant's invitation"
        )
        [token] = re.findall(rf"/p/{cycle_id}/{TOKEN}", invitation.text)
        assert 119.9 < expires_in_days(token) <= 120, "valid participant_link_days from when it was sent"
        assert "it works for 120 days" in invitation.text
        assert (await service.client.get(f"/p/{cycle_id}/{token}")).status_code == 200
        previous = link_token("participant", cycle_id, secret=OLD)
        assert (await service.client.get(f"/p/{cycle_id}/{previous}")).status_code == 200, "rotation"

        for secret in (NEW, OLD):
            expired = link_token("participant", cycle_id, secret=secret, expires_at=past())
            page = await service.client.get(f"/p/{cycle_id}/{expired}")
            assert page.status_code == 410 and "This link has expired" in page.text
            assert f'action="/p/{cycle_id}/{expired}/new-link"' in page.text and "Email me a new link" in page.text
            closing = await service.client.post(f"/p/{cycle_id}/{expired}/close")
            assert closing.status_code == 410, "an expired link changes nothing"
            for forged in (tampered(expired), tampered(token), expired.partition(".")[2], f"0{expired}"):
                refused = await service.client.get(f"/p/{cycle_id}/{forged}")
                assert refused.status_code == 404 and "This link does not work" in refused.text
            assert (await service.client.post(f"/p/{cycle_id}/{tampered(expired)}/new-link")).status_code == 404
        [state] = await rows(service, "SELECT status FROM invitations.cycle WHERE id = :c", c=cycle_id)
        assert state.status == "open"

        expired = link_token("participant", cycle_id, secret=OLD, expires_at=past())
        asked = await service.client.post(f"/p/{cycle_id}/{expired}/new-link")
        assert asked.status_code == 200 and "Check your email" in asked.text
        [renewed] = await eventually(
            lambda: mail.to(participant, "participant_link"), timeout=30, what="the new link's email"
        )
        [fresh] = re.findall(rf"/p/{cycle_id}/{TOKEN}", renewed.text)
        assert 119.9 < expires_in_days(fresh) <= 120
        assert (await service.client.get(f"/p/{cycle_id}/{fresh}")).status_code == 200
        assert {r.to for r in mail.received if r.kind == "participant_link"} == {participant}, "only on record"

        # beyond the per-link limit, and for a 360 that does not exist: the same answer, nothing sent
        again = [await service.client.post(f"/p/{cycle_id}/{expired}/new-link") for _ in range(2)]
        nobody = uuid.uuid4()
        unknown = link_token("participant", nobody, secret=NEW, expires_at=past())
        again.append(await service.client.post(f"/p/{nobody}/{unknown}/new-link"))
        assert [(r.status_code, r.text) for r in again] == [(200, asked.text)] * 3
        assert await queued(service, cycle_id, "participant_link") == 2
        assert await queued(service, nobody, "participant_link") == 0


async def test_approval_and_confirmation_links_expire_and_an_approval_request_can_be_sent_again(
    settings: StackSettings,
) -> None:
    event = request()
    cycle_id, manager = event.cycle_id, str(event.raters[0].email).lower()
    overrides = fast(**ROTATED, require_line_manager_approval=True)
    async with (
        smtp_capture() as (mail, port),
        running_service("invitations", settings, **overrides, smtp_port=port) as (service),
    ):
        event = await post_cycle(service.client, event)
        cycle_id = event.cycle_id
        [approval] = await eventually(
            lambda: mail.to(manager, "approval_request"), timeout=30, what="the approval request"
        )
        [token] = re.findall(rf"/approve/{cycle_id}/{TOKEN}", approval.text)
        assert 13.9 < expires_in_days(token) <= 14 and "The link works for 14 days" in approval.text
        assert (await service.client.get(f"/approve/{cycle_id}/{token}")).status_code == 200
        previous = link_token("approval", cycle_id, secret=OLD)
        assert (await service.client.get(f"/approve/{cycle_id}/{previous}")).status_code == 200, "rotation"

        expired = link_token("approval", cycle_id, secret=OLD, expires_at=past())
        page = await service.client.get(f"/approve/{cycle_id}/{expired}")
        assert page.status_code == 410 and f'action="/approve/{cycle_id}/{expired}/new-link"' in page.text
        decided = await service.client.post(f"/approve/{cycle_id}/{expired}", data={"decision": "approve"})
        assert decided.status_code == 410
        assert (await service.client.get(f"/approve/{cycle_id}/{tampered(expired)}")).status_code == 404
        [state] = await rows(service, "SELECT status FROM invitations.cycle WHERE id = :c", c=cycle_id)
        assert state.status == "awaiting_approval", "an expired link decides nothing"

        asked = await service.client.post(f"/approve/{cycle_id}/{expired}/new-link")
        assert asked.status_code == 200 and "Check your email" in asked.text
        requests = await eventually(
            lambda: len(found := mail.to(manager, "approval_request")) == 2 and found,
            timeout=30,
            what="the approval request sent again",
        )
        [fresh] = re.findall(rf"/approve/{cycle_id}/{TOKEN}", requests[1].text)
        assert (await service.client.get(f"/approve/{cycle_id}/{fresh}")).status_code == 200

        # a confirmation link: signed with either secret it opens while in date; expired, the person
        # is sent back to the start page (a request not confirmed in time is forgotten), no new link
        for secret in (NEW, OLD):
            confirm = link_token("confirm", cycle_id, secret=secret)
            assert (await service.client.get(f"/confirm/{cycle_id}/{confirm}")).status_code == 200
        late = link_token("confirm", cycle_id, secret=NEW, expires_at=past())
        page = await service.client.get(f"/confirm/{cycle_id}/{late}")
        assert page.status_code == 410 and "Ask for a 360 again" in page.text and "new-link" not in page.text
        assert (await service.client.post(f"/confirm/{cycle_id}/{late}")).status_code == 410
        assert (await service.client.get(f"/confirm/{cycle_id}/{tampered(late)}")).status_code == 404
