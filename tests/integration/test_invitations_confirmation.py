"""Issue 12 item 3: a 360 asked for on the public page or API contacts nobody until the participant
confirms it by the emailed link (a GET shows a button, the POST confirms; the link expires)."""

from __future__ import annotations

import json
import re
import uuid

from invitations.domain import verified_participant_id
from invitations.usecases.intake import purge_unconfirmed
from tests.config import StackSettings
from tests.integration.conftest import ServiceUnderTest, running_service
from tests.integration.test_invitations_intake import start_form
from tests.integration.test_invitations_support import (
    api_body,
    fast,
    link_token,
    request,
    rows,
    smtp_capture,
)
from tests.support import eventually


async def _events(service: ServiceUnderTest, cycle_id: uuid.UUID) -> list[str]:
    found = await rows(service, "SELECT event_type FROM outbox WHERE key = :k", k=str(cycle_id))
    return sorted(r.event_type for r in found)


async def _emails(service: ServiceUnderTest, cycle_id: uuid.UUID) -> list[str]:
    found = await rows(service, "SELECT kind FROM invitations.outgoing_email WHERE cycle_id = :c", c=cycle_id)
    return sorted(r.kind for r in found)


async def test_an_api_request_contacts_nobody_until_the_participant_confirms_by_the_emailed_link(
    settings: StackSettings,
) -> None:
    event = request()
    participant = str(event.participant.email)
    async with (
        smtp_capture() as (mail, port),
        running_service("invitations", settings, **fast(smtp_port=port, confirm_public_requests=True)) as service,
    ):
        accepted = await service.client.post("/api/cycles", json=api_body(event))
        assert accepted.status_code == 202 and accepted.json()["status"] == "awaiting_confirmation", accepted.text
        event = event.model_copy(update={"cycle_id": uuid.UUID(accepted.json()["cycle_id"])})
        [confirmation] = await eventually(
            lambda: mail.to(participant, "confirm_request"), timeout=30, what="the confirmation email"
        )
        assert [r.to for r in mail.received] == [participant.lower()], "nobody else is contacted"
        assert await _events(service, event.cycle_id) == [], "nothing is announced before confirmation"
        assert await _emails(service, event.cycle_id) == ["confirm_request"]
        [link] = re.findall(r"https?://\S+/confirm/\S+", confirmation.text)
        path = "/confirm/" + link.split("/confirm/", 1)[1]

        wrong = await service.client.get(f"/confirm/{event.cycle_id}/{'A' * 43}")
        assert wrong.status_code == 404
        other_purpose = link_token("participant", event.cycle_id)
        assert (await service.client.post(f"/confirm/{event.cycle_id}/{other_purpose}")).status_code == 404
        page = await service.client.get(path)
        assert page.status_code == 200 and "Confirm my 360" in page.text
        assert await _events(service, event.cycle_id) == [], "opening the link (a mail scanner) confirms nothing"

        confirmed = await service.client.post(path)
        assert confirmed.status_code == 200 and "Your 360 is confirmed" in confirmed.text
        again = await service.client.post(path)
        assert again.status_code == 200, "confirming twice changes nothing"
        events = await _events(service, event.cycle_id)
        assert events.count("CycleOpened") == 1 and events.count("RaterNominated") == len(event.raters) + 1
        invited = {str(r.email).lower() for r in event.raters}

        async def everyone_invited() -> bool:
            return invited <= {r.to for r in mail.received if r.kind == "invitation"}

        await eventually(everyone_invited, timeout=60, what="invitations after confirmation")
        assert mail.to(participant, "invitation_self"), "the participant's own link comes once confirmed"


async def test_an_expired_confirmation_starts_nothing_and_the_start_page_says_check_your_email(
    settings: StackSettings,
) -> None:
    tag = uuid.uuid4().hex[:8]
    form = start_form(tag, participant_id="ESR-SOMEONE-ELSE")
    cycle_id = uuid.UUID(form["cycle_id"])
    async with running_service("invitations", settings, **fast(confirm_public_requests=True)) as service:
        started = await service.client.post("/start", data=form)
        assert started.status_code == 303, started.text
        page = await service.client.get(started.headers["location"])
        assert "Check your email" in page.text and "Nobody is contacted until you confirm" in page.text
        [state] = await rows(
            service, "SELECT status, participant_id FROM invitations.cycle WHERE id = :id", id=cycle_id
        )
        assert state.status == "awaiting_confirmation"
        assert state.participant_id == verified_participant_id(form["email"]), "from the mailbox, never typed"
        assert await _events(service, cycle_id) == [] and await _emails(service, cycle_id) == ["confirm_request"]

        async with service.runtime.uow() as uow:
            from sqlalchemy import text

            await uow.session.execute(
                text("UPDATE invitations.cycle SET created_at = now() - interval '49 hours' WHERE id = :id"),
                {"id": cycle_id},
            )
            await uow.commit()
        token = link_token("confirm", cycle_id)
        expired = await service.client.post(f"/confirm/{cycle_id}/{token}")
        assert expired.status_code == 409 and "has expired" in expired.text
        assert await _events(service, cycle_id) == [], "an expired request starts nothing"
        assert await _emails(service, cycle_id) == ["confirm_request"]

        async with service.runtime.uow() as uow:
            assert await purge_unconfirmed(uow, settings=service.runtime.settings) >= 1  # type: ignore[arg-type]
            await uow.commit()
        for table in ("cycle", "rater", "outgoing_email"):
            column = "id" if table == "cycle" else "cycle_id"
            found = await rows(service, f"SELECT 1 FROM invitations.{table} WHERE {column} = :c", c=cycle_id)
            assert found == [], f"{table}: an unconfirmed request is forgotten, names and addresses too"
        assert (await service.client.post(f"/confirm/{cycle_id}/{token}")).status_code == 409


async def test_a_programme_credit_is_taken_only_when_the_participant_confirms(settings: StackSettings) -> None:
    account = f"CONF-{uuid.uuid4().hex[:8]}"
    async with running_service("invitations", settings, **fast(confirm_public_requests=True)) as service:
        async with service.runtime.uow() as uow:
            from invitations.usecases.funding import top_up_credits

            await top_up_credits(uow, reference=account, programme="Confirmation test", credits=1)
            await uow.commit()

        async def balance() -> int:
            [row] = await rows(
                service, "SELECT balance FROM invitations.credit_account WHERE reference = :r", r=account
            )
            return int(row.balance)

        ids: list[uuid.UUID] = []
        for _ in range(2):
            body = api_body(request())
            body["funding"] = {"method": "programme_credit", "reference": account}
            accepted = await service.client.post("/api/cycles", json=body)
            assert accepted.status_code == 202, accepted.text
            ids.append(uuid.UUID(accepted.json()["cycle_id"]))
        assert await balance() == 1, "an unconfirmed request takes no credit"
        tokens = [link_token("confirm", cycle_id) for cycle_id in ids]
        first = await service.client.post(f"/confirm/{ids[0]}/{tokens[0]}")
        assert first.status_code == 200 and await balance() == 0
        second = await service.client.post(f"/confirm/{ids[1]}/{tokens[1]}")
        assert second.status_code == 409 and "This programme credit reference cannot be used" in second.text
        assert await _events(service, ids[1]) == []
        assert json.dumps(await _emails(service, ids[1])) == '["confirm_request"]'


async def test_public_requests_are_limited_per_client_and_per_participant_with_one_generic_message(
    settings: StackSettings,
) -> None:
    limits = {"public_requests_per_client_per_hour": 4, "public_requests_per_participant_per_day": 2}
    async with running_service("invitations", settings, **fast(confirm_public_requests=True, **limits)) as service:
        same = request()
        address = str(same.participant.email)
        local, _, domain = address.partition("@")
        bodies = []
        for variant in (address, f"{local.upper()}+again@{domain}", f"{local}+third@{domain.upper()}"):
            body = api_body(request())
            body["participant"] = {**body["participant"], "email": variant}
            bodies.append(body)
        answers = [await service.client.post("/api/cycles", json=body) for body in bodies]
        assert [a.status_code for a in answers] == [202, 202, 429], "two per participant, whatever the spelling"
        generic = answers[2].json()["detail"]
        assert generic == "Too many 360s have been asked for recently; try again later"
        assert len(await rows(service, "SELECT 1 FROM invitations.cycle")) == 2, "the refused one is not stored"

        other = await service.client.post("/api/cycles", json=api_body(request()))
        assert other.status_code == 202, (
            "another participant from the same client: the fourth try of four (a refused try counts)"
        )
        page = await service.client.post("/start", data=start_form(uuid.uuid4().hex[:8]))
        assert page.status_code == 429 and "Too many 360s have been asked for recently" in page.text
        assert address not in page.text and local not in answers[2].text, "never says who was asked for"


async def test_the_start_page_never_lets_a_client_choose_the_id_of_the_360(settings: StackSettings) -> None:
    chosen = uuid.uuid4()  # e.g. the id a cohort import will derive for someone
    async with running_service("invitations", settings, **fast()) as service:
        page = (await service.client.get("/start")).text
        [issued] = re.findall(r'name="cycle_id" value="([0-9a-f-]{36})"', page)
        assert re.search(r'name="cycle_token" value="[A-Za-z0-9_-]{40,}"', page)

        forged = start_form(uuid.uuid4().hex[:8], cycle_id=str(chosen))
        opened = await service.client.post("/start", data=forged)
        assert opened.status_code == 303, opened.text
        assert str(chosen) not in opened.headers["location"], "a forged id is replaced by the server's"
        assert await rows(service, "SELECT 1 FROM invitations.cycle WHERE id = :id", id=chosen) == []

        signed = start_form(uuid.uuid4().hex[:8])
        first = await service.client.post("/start", data=signed)
        again = await service.client.post("/start", data=signed)
        assert first.headers["location"] == again.headers["location"] == f"/started/{signed['cycle_id']}"
        assert issued != signed["cycle_id"]
