"""Funding (exact prices, purchase orders, payment references, programme credits that cannot go
negative under concurrent requests), facilitator choice from scheduling's events, nomination
rejections, line-manager approval and rater fatigue."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import date
from functools import partial
from typing import Any

from shared.contracts.events import (
    AvailabilityPublished,
    FacilitatorAccredited,
    FacilitatorRegistered,
    FacilitatorStatusChanged,
)
from shared.contracts.vocabulary import FundingMethod
from tests.config import StackSettings
from tests.integration.conftest import running_service
from tests.integration.test_invitations_intake import start_form
from tests.integration.test_invitations_support import (
    api_body,
    fast,
    link_token,
    post_body,
    publish,
    request,
    rows,
    smtp_capture,
)
from tests.support import eventually


def funded(method: FundingMethod, reference: str) -> dict[str, Any]:
    body = api_body(request())
    body["funding"] = {"method": method.value, "reference": reference}
    return body


async def test_programme_credits_never_go_negative_under_concurrent_requests(settings: StackSettings) -> None:
    account = f"MSP-{uuid.uuid4().hex[:8]}"
    async with running_service("invitations", settings, **fast()) as service:
        async with service.runtime.uow() as uow:
            from invitations.usecases.funding import top_up_credits

            assert await top_up_credits(uow, reference=account, programme="Mary Seacole", credits=5) == 5
            await uow.commit()
        bodies = [funded(FundingMethod.PROGRAMME_CREDIT, account) for _ in range(12)]
        responses = await asyncio.gather(*(service.client.post("/api/cycles", json=b) for b in bodies))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [202] * 5 + [422] * 7, [r.text for r in responses]
        refusals = {r.json()["detail"] for r in responses if r.status_code == 422}
        generic = "this programme credit reference cannot be used; check it with your programme team"
        assert refusals == {generic}, "the public API says the same for an empty account as for none"
        [account_row] = await rows(
            service, "SELECT balance FROM invitations.credit_account WHERE reference = :r", r=account
        )
        ledger = await rows(
            service,
            "SELECT kind, delta, cycle_id FROM invitations.credit_entry WHERE reference = :r ORDER BY id",
            r=account,
        )
        assert account_row.balance == 0 and sum(e.delta for e in ledger) == 0
        debited = {e.cycle_id for e in ledger if e.kind == "debit"}
        opened = await rows(service, "SELECT id FROM invitations.cycle WHERE funding_reference = :r", r=account)
        assert debited == {r.id for r in opened} and len(opened) == 5

        unknown = await service.client.post("/api/cycles", json=funded(FundingMethod.PROGRAMME_CREDIT, "NO-SUCH"))
        assert unknown.status_code == 422
        assert unknown.json()["detail"] == generic, "one generic error: nobody can probe which references exist"


async def test_purchase_orders_and_payments_are_recorded_with_exact_amounts(settings: StackSettings) -> None:
    async with running_service("invitations", settings, **fast(price_net="39.99", vat_rate="0.175")) as service:
        po = funded(FundingMethod.PURCHASE_ORDER, "PO-2026-000123")
        paid = funded(FundingMethod.SELF_FUNDED, "PAY 77/ABC")
        ids = [await post_body(service.client, body) for body in (po, paid)]
        found = await rows(
            service,
            "SELECT funding_method, funding_reference, amount_net, amount_vat, amount_due "
            "FROM invitations.cycle WHERE id = ANY(:ids) ORDER BY funding_method",
            ids=ids,
        )
        assert [
            (r.funding_method, r.funding_reference, str(r.amount_net), str(r.amount_vat), str(r.amount_due))
            for r in found
        ] == [
            ("purchase_order", "PO-2026-000123", "39.99", "7.00", "46.99"),
            ("self_funded", "PAY 77/ABC", "39.99", "7.00", "46.99"),
        ]
        blank = funded(FundingMethod.PURCHASE_ORDER, "   ")
        refused = await service.client.post("/api/cycles", json=blank)
        assert refused.status_code == 422
        assert len(await rows(service, "SELECT id FROM invitations.cycle")) == 2, "the refused one is not stored"


async def test_facilitator_choice_comes_from_scheduling_events(settings: StackSettings) -> None:
    tag = uuid.uuid4().hex[:6]
    free, full, unknown = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with running_service("invitations", settings, **fast()) as service:
        events = []
        for fid, slots in ((free, 3), (full, 0)):
            events += [
                FacilitatorRegistered(
                    producer="scheduling",
                    facilitator_id=fid,
                    name=f"Facilitator {tag} {slots}",
                    email=f"f{slots}.{tag}@example.nhs.uk",
                    region="London",
                    organisation="Trust",
                    monthly_capacity=4,
                ),
                FacilitatorAccredited(
                    producer="scheduling",
                    facilitator_id=fid,
                    elearning_score=85,
                    elearning_passed_on=date(2025, 1, 1),
                    course_completed_on=date(2025, 2, 1),
                ),
                AvailabilityPublished(producer="scheduling", facilitator_id=fid, free_slots=slots),
            ]
        events.append(FacilitatorStatusChanged(producer="scheduling", facilitator_id=full, status="lapsed"))
        await publish(settings, *events)

        async def listed() -> list[Any] | None:
            # The final state of both facilitators is checked first, then the list is read: read the other way
            # round, the list can predate the last event while the check sees it.
            full_known = await rows(
                service,
                "SELECT 1 FROM invitations.facilitator WHERE id = :id AND "
                "free_slots = 0 AND accredited AND status = 'lapsed'",
                id=full,
            )
            free_known = await rows(
                service,
                "SELECT 1 FROM invitations.facilitator WHERE id = :id AND free_slots = 3 AND accredited",
                id=free,
            )
            if not (full_known and free_known):
                return None
            found: list[Any] = (await service.client.get("/api/facilitators")).json()
            return found

        found = await eventually(listed, timeout=60, what="facilitators from scheduling's events")
        assert str(free) in {f["id"] for f in found}
        assert str(full) not in {f["id"] for f in found}
        page = await service.client.get("/start")
        assert f"Facilitator {tag} 3" in page.text and f"Facilitator {tag} 0" not in page.text

        refused = await service.client.post("/api/cycles", json={**api_body(request()), "facilitator_id": str(full)})
        assert refused.status_code == 422 and "the chosen facilitator is lapsed" in refused.json()["detail"]
        for fid in (free, unknown):  # an unknown id is left for scheduling to check at booking
            body = {**api_body(request()), "facilitator_id": str(fid)}
            accepted = await service.client.post("/api/cycles", json=body)
            assert accepted.status_code == 202, accepted.text


def _alias(address: str, tag: str) -> str:
    """The same mailbox written another way: upper case, with a +tag."""
    local, _, domain = address.partition("@")
    return f"{local.upper()}+{tag}@{domain.upper()}"


def _with_raters(change: Any) -> dict[str, Any]:
    body = api_body(request())
    body["raters"] = change(body["raters"], body["participant"]["email"])
    return body


async def test_every_nomination_rejection_has_a_clear_message_and_creates_nothing(settings: StackSettings) -> None:
    cases = {
        "duplicate": (lambda r, me: [*r, r[1]], "rater 10 is nominated more than once (same email address as rater 2"),
        "self": (lambda r, me: [*r, {**r[1], "email": me}], "rater 10 is the participant"),
        # issue 12: aliases of a rater or of the participant, and addresses off the allow-list
        "tagged duplicate": (
            lambda r, me: [*r, {**r[1], "email": _alias(r[1]["email"], "again")}],
            "rater 10 is nominated more than once (same email address as rater 2, ignoring case and any +tag)",
        ),
        "participant's alias": (
            lambda r, me: [*r, {**r[1], "email": _alias(me, "peer")}],
            "rater 10 is the participant",
        ),
        "participant at nhs.net": (
            lambda r, me: [*r, {**r[1], "email": me.split("@")[0] + "@nhs.net"}],
            "rater 10 is the participant",
        ),
        "consumer domain": (
            lambda r, me: [*r, {**r[1], "email": "a.friend@gmail.com"}],
            "rater 10: use their work email address: it must end @nhs.net, @nhs.uk or .nhs.uk",
        ),
        "two groups": (
            lambda r, me: [*r, {**r[1], "group": "other"}],
            "rater 10 (other colleague) is the same person as rater 2 (peer): a person can only be in one group",
        ),
        "no line manager": (lambda r, me: r[1:], "exactly one line manager is needed (got 0)"),
        "two line managers": (
            lambda r, me: [*r, {**r[0], "email": "lm2@example.nhs.uk"}],
            "exactly one line manager is needed (got 2)",
        ),
        "too few peers": (
            lambda r, me: [x for x in r if x["group"] != "peer"][:1] + r[1:3],
            "at least 3 peers are needed (got 2)",
        ),
        "too few direct reports": (lambda r, me: r[:5] + r[7:], "at least 3 direct reports are needed"),
    }
    async with running_service("invitations", settings, **fast()) as service:
        for name, (change, message) in cases.items():
            body = _with_raters(change)
            response = await service.client.post("/api/cycles", json=body)
            assert response.status_code == 422, name
            detail = response.json()["detail"]
            assert [item["msg"] for item in detail if message in item["msg"]], (name, detail)
            echoed = json.dumps(detail).lower()
            assert "example.nhs.uk" not in echoed and "gmail" not in echoed, ("never echoes an address", detail)
            if message.startswith("rater 10"):
                assert [item["loc"] for item in detail] == [["body", "raters", 9, "email"]], (name, detail)
            assert await rows(service, "SELECT 1 FROM invitations.cycle") == [], name
        malformed = _with_raters(lambda r, me: [*r[:-1], {**r[-1], "email": "no-at-sign"}])
        response = await service.client.post("/api/cycles", json=malformed)
        assert response.status_code == 422 and response.json()["detail"][0]["loc"][-1] == "email"

        tag = uuid.uuid4().hex[:8]
        form = start_form(
            tag,
            peer_2_email="not an email",
            report_3_email=f"peer1.{tag}@example.nhs.uk",
            lm_email=f"amara.{tag}@example.nhs.uk",
            funding_reference="",
            peer_3_email=_alias(f"amara.{tag}@example.nhs.uk", "peer3"),
            other_1_name="Friend",
            other_1_email=f"friend.{tag}@gmail.com",
            other_2_name="Peer again",
            other_2_email=_alias(f"peer1.{tag}@example.nhs.uk", "x"),
        )
        page = await service.client.post("/start", data=form)
        assert page.status_code == 422
        for text in (
            "There is a problem",
            'href="#peer-2-email"',
            "Peer 2: enter a valid email address",
            'href="#report-3-email"',
            "Direct report 3 (direct report) is the same person as Peer 1",
            'href="#lm-email"',
            "Your line manager is the participant",
            'href="#peer-3-email"',
            "Peer 3 is the participant",
            'href="#other-1-email"',
            "Other colleague 1: use their work email address: it must end @nhs.net, @nhs.uk or .nhs.uk",
            'href="#other-2-email"',
            "Other colleague 2 (other colleague) is the same person as Peer 1",
            'href="#funding-reference"',
            "needs a payment reference",
            'value="not an email"',
            'value="Report 3"',
        ):
            assert text in page.text, text
        assert await rows(service, "SELECT 1 FROM invitations.cycle") == [], "nothing is stored"


async def test_line_manager_approves_the_list_before_invitations_go(settings: StackSettings) -> None:
    account = f"EGA-{uuid.uuid4().hex[:8]}"
    async with (
        smtp_capture() as (mail, port),
        running_service("invitations", settings, **fast(require_line_manager_approval=True, smtp_port=port)) as service,
    ):
        async with service.runtime.uow() as uow:
            from invitations.usecases.funding import top_up_credits

            await top_up_credits(uow, reference=account, programme="Elizabeth Garrett Anderson", credits=2)
            await uow.commit()
        yes, no = (funded(FundingMethod.PROGRAMME_CREDIT, account) for _ in range(2))
        director = f"director.{uuid.uuid4().hex[:8]}@example.nhs.uk"
        yes["participant"] |= {"management_line": [director.upper()], "preferred_language": "gd"}
        cycle_id, other = [await post_body(service.client, body) for body in (yes, no)]
        manager = yes["raters"][0]["email"].lower()
        [approval] = await eventually(
            lambda: mail.to(manager, "approval_request"), timeout=30, what="approval request email"
        )
        assert mail.to(yes["raters"][1]["email"], None) == [], "nobody else is invited yet"
        [token] = re.findall(rf"/approve/{cycle_id}/([0-9]+\.[A-Za-z0-9_-]{{43}})", approval.text)
        assert "Peer 1" in approval.text
        assert await rows(service, "SELECT 1 FROM outbox WHERE key = :k", k=str(cycle_id)) == []

        page = await service.client.get(f"/approve/{cycle_id}/{token}")
        assert page.status_code == 200 and "Stakeholder 2" in page.text
        empty = await service.client.post(f"/approve/{cycle_id}/{token}", data={})
        assert empty.status_code == 422 and "Select whether you approve the list" in empty.text
        decided = await service.client.post(f"/approve/{cycle_id}/{token}", data={"decision": "approve"})
        assert decided.status_code == 200

        async def everyone_invited() -> bool:
            return all(mail.to(r["email"], "invitation") for r in yes["raters"])

        await eventually(everyone_invited, timeout=30, what="invitations after approval")
        opened = await rows(
            service, "SELECT payload FROM outbox WHERE key = :k AND event_type = 'CycleOpened'", k=str(cycle_id)
        )
        assert len(opened) == 1 and json.loads(opened[0].payload)["invited_per_group"]["peer"] == 3
        announced = json.loads(opened[0].payload)
        assert announced["management_line"] == [director, manager], "kept from the request until approval"
        assert announced["preferred_language"] == "gd"

        other_token = link_token("approval", other)
        await service.client.post(f"/approve/{other}/{other_token}", data={"decision": "reject"})
        [state] = await rows(service, "SELECT status FROM invitations.cycle WHERE id = :id", id=other)
        [balance] = await rows(
            service, "SELECT balance FROM invitations.credit_account WHERE reference = :r", r=account
        )
        assert state.status == "not_approved" and balance.balance == 1, "the credit comes back"
        await eventually(
            lambda: mail.to(no["participant"]["email"], "not_approved"),
            timeout=30,
            what="participant told it was not approved",
        )


async def test_busy_raters_are_hinted_at_without_saying_who_or_how_many(settings: StackSettings) -> None:
    """Issue 12: the hint says nothing about a named colleague: it needs two busy raters, and names
    neither them nor their number of other 360s (counted by mailbox: +tags are one person)."""
    tag = uuid.uuid4().hex[:8]
    busy, also_busy = f"busy.{tag}@example.nhs.uk", f"also.busy.{tag}@example.nhs.uk"
    token_of = partial(link_token, "participant")
    async with running_service("invitations", settings, **fast(fatigue_threshold=2)) as service:

        async def open_with(*addresses: str) -> str:
            body = api_body(request())
            for position, address in enumerate(addresses, start=1):
                body["raters"][position] = {**body["raters"][position], "email": address, "name": f"Busy {position}"}
            cycle_id = await post_body(service.client, body)
            return (await service.client.get(f"/p/{cycle_id}/{token_of(cycle_id)}")).text

        for n in range(3):
            await open_with(busy.replace("@", f"+{n}@").upper(), also_busy)
        one_busy = await open_with(busy)
        assert "asked a lot" not in one_busy, "one busy person: the hint would be about that person"
        page = await open_with(busy, also_busy)
        assert "Some people have been asked a lot" in page
        hint = page.split("Some people have been asked a lot")[1].split("</div>")[0]
        assert "Some of the people you asked" in hint
        for revealing in ("Busy 1", "Busy 2", "peers", " 4 other", " 5 other", "<li>"):
            assert revealing not in hint, revealing
