"""The three ways a 360 starts (web page, Kafka from another NHS system, CSV cohort import), all
through one use case, and malformed intake events landing in the dead-letter topic with a reason."""

from __future__ import annotations

import email
import email.policy
import html
import json
import logging
import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from invitations.domain import cohort_cycle_id
from invitations.links import form_token
from shared.contracts.events import (
    CycleRequested,
    FacilitatorAccredited,
    FacilitatorRegistered,
    FacilitatorStatusChanged,
)
from shared.contracts.topics import DEAD_LETTER_TOPIC, topic_for
from shared.contracts.vocabulary import RaterGroup
from shared.links import SigningKeys
from tests.config import REPO, StackSettings
from tests.integration.conftest import ServiceUnderTest, running_service
from tests.integration.test_invitations_support import LINK_SECRET, fast, publish, request, rows
from tests.support import TopicReader, eventually, header

TOPIC = topic_for(CycleRequested)


def start_form(tag: str, **changes: str) -> dict[str, str]:
    closes = date.today() + timedelta(days=21)
    form = {
        "cycle_id": str(uuid.uuid4()),
        "given_name": "Amara",
        "family_name": "Okafor",
        "email": f"amara.{tag}@example.nhs.uk",
        "organisation": "Example NHS Trust",
        "region": "London",
        "deadline_day": str(closes.day),
        "deadline_month": str(closes.month),
        "deadline_year": str(closes.year),
        "has_reports": "yes",
        "lm_name": "Jo Bloggs",
        "lm_email": f"jo.{tag}@example.nhs.uk",
        "funding_method": "self_funded",
        "funding_reference": f"PAY-{tag}",
    }
    # the id the start page issued with the form, signed (a client cannot choose its own)
    form["cycle_token"] = form_token(SigningKeys(LINK_SECRET.encode()), uuid.UUID(form["cycle_id"]))
    for number in (1, 2, 3):
        form[f"peer_{number}_name"] = f"Peer {number}"
        form[f"peer_{number}_email"] = f"peer{number}.{tag}@example.nhs.uk"
        form[f"report_{number}_name"] = f"Report {number}"
        form[f"report_{number}_email"] = f"report{number}.{tag}@example.nhs.uk"
    return {**form, **changes}


def sink_messages(settings: StackSettings, address: str) -> list[email.message.EmailMessage]:
    found = []
    for path in settings.hlm360_mail_dir.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if str(message.get("To", "")).lower() == address:
            found.append(message)
    return found  # type: ignore[return-value]


async def test_web_page_starts_a_360_through_real_smtp_and_mails_a_private_participant_link(
    settings: StackSettings,
) -> None:
    tag = uuid.uuid4().hex[:8]
    form = start_form(tag)
    async with running_service("invitations", settings, **fast()) as service:
        response = await service.client.post("/start", data=form)
        assert response.status_code == 303, response.text
        again = await service.client.post("/start", data=form)
        assert again.status_code == 303, "submitting the same form twice is harmless"
        cycle_id = uuid.UUID(form["cycle_id"])
        assert response.headers["location"] == f"/started/{cycle_id}"
        [cycle] = await rows(
            service,
            "SELECT status, amount_net, amount_vat, amount_due, funding_method FROM invitations.cycle WHERE id = :id",
            id=cycle_id,
        )
        assert cycle.status == "open" and cycle.funding_method == "self_funded"
        assert (str(cycle.amount_net), str(cycle.amount_vat), str(cycle.amount_due)) == ("40.00", "8.00", "48.00")
        participant = form["email"]

        async def participant_mail() -> list[Any] | None:
            return sink_messages(settings, participant) or None

        [message] = await eventually(participant_mail, timeout=30, what="the participant's email in .local/mail")
        text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        [token] = re.findall(rf"/p/{cycle_id}/([0-9]+\.[A-Za-z0-9_-]{{43}})", text)
        page = await service.client.get(f"/p/{cycle_id}/{token}")
        assert page.status_code == 200 and "Responses so far" in page.text
        assert (await service.client.get(f"/p/{cycle_id}/{token[:-2]}xx")).status_code == 404


async def test_kafka_request_from_another_system_opens_the_cycle(settings: StackSettings) -> None:
    event = request()
    async with running_service("invitations", settings, **fast()) as service:
        await publish(settings, event)

        async def announced() -> list[Any] | None:
            # read our own outbox: the deployed service on the same topics announces the cycle too
            return (
                await rows(
                    service,
                    "SELECT payload, published_at FROM outbox WHERE event_type = 'CycleOpened' "
                    "AND key = :key AND published_at IS NOT NULL",
                    key=str(event.cycle_id),
                )
                or None
            )

        [opened] = await eventually(announced, timeout=60, what="CycleOpened published from our outbox")
        body = json.loads(opened.payload)
        assert body["invited_per_group"] == {"self": 1, "line_manager": 1, "peer": 3, "direct_report": 3, "other": 2}
        [cycle] = await rows(service, "SELECT requested_by FROM invitations.cycle WHERE id = :id", id=event.cycle_id)
        assert cycle.requested_by == "hlm360-demo"


async def cycle_opened(service: ServiceUnderTest, cycle_id: uuid.UUID) -> dict[str, Any]:
    """The CycleOpened this service wrote to its own outbox for the cycle."""
    [opened] = await rows(
        service, "SELECT payload FROM outbox WHERE event_type = 'CycleOpened' AND key = :key", key=str(cycle_id)
    )
    body: dict[str, Any] = json.loads(opened.payload)
    return body


async def kept(service: ServiceUnderTest, cycle_id: uuid.UUID) -> tuple[list[str], str | None]:
    [cycle] = await rows(
        service, "SELECT management_line, preferred_language FROM invitations.cycle WHERE id = :id", id=cycle_id
    )
    return list(cycle.management_line), cycle.preferred_language


async def test_kafka_request_with_management_line_and_language_opens_with_both_and_never_logs_the_line(
    settings: StackSettings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="invitations")
    tag = uuid.uuid4().hex[:8]
    base = request(tag=tag)
    manager = str(next(r for r in base.raters if r.group is RaterGroup.LINE_MANAGER).email)
    body = base.model_dump(mode="json")
    body["participant"] |= {
        "management_line": [
            f"Director.{tag}@Example.NHS.uk",
            manager.upper(),
            body["participant"]["email"].upper(),
            f"director.{tag}@example.nhs.uk",
        ],
        "preferred_language": "cy",
    }
    event = CycleRequested.model_validate(body)
    director = f"director.{tag}@example.nhs.uk"
    async with running_service("invitations", settings, **fast()) as service:
        await publish(settings, event)

        async def opened() -> list[Any] | None:
            return await rows(service, "SELECT 1 FROM invitations.cycle WHERE id = :id", id=event.cycle_id) or None

        await eventually(opened, timeout=60, what="the cycle opened from Kafka")
        announced = await cycle_opened(service, event.cycle_id)
        assert announced["management_line"] == [director, manager.casefold()], (
            "the request's line, then the nominated line manager: casefolded, once each, never the participant"
        )
        assert announced["preferred_language"] == "cy"
        assert await kept(service, event.cycle_id) == ([director, manager.casefold()], "cy")
    assert any(r.getMessage() == "cycle requested" for r in caplog.records), "the service's logs were captured"
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records).casefold()
    assert director not in logged and manager.casefold() not in logged


async def test_web_page_takes_a_session_language_and_the_line_managers_manager(settings: StackSettings) -> None:
    tag = uuid.uuid4().hex[:8]
    async with running_service("invitations", settings, **fast()) as service:
        page = html.unescape((await service.client.get("/start")).text)
        assert "Preferred language for your feedback session" in page and "Your line manager's manager" in page
        for option in (
            '<option value="en" selected>English</option>',
            '<option value="cy">Welsh</option>',
            '<option value="bsl">British Sign Language</option>',
        ):
            assert option in page

        own, manager = f"amara.{tag}@example.nhs.uk", f"jo.{tag}@example.nhs.uk"
        for changes, message in (
            (
                {"preferred_language": "klingon", "lm_manager_email": "not-an-email"},
                "Select the language for your feedback session from the list",
            ),
            ({"lm_manager_email": "not-an-email"}, "Enter your line manager's manager's work email address"),
            ({"lm_manager_email": own.upper()}, "Enter your line manager's manager's email address, not your own"),
            ({"lm_manager_email": manager}, "This is your line manager's email address"),
        ):
            form = start_form(tag, **changes)
            refused = await service.client.post("/start", data=form)
            assert refused.status_code == 422, changes
            text = html.unescape(refused.text)
            assert "There is a problem" in text and message in text, (changes, message)
            assert 'href="#preferred-language"' in text or 'href="#lm-manager-email"' in text
            assert f'value="{changes["lm_manager_email"]}"' in text, "what was typed is kept"
            assert (
                await rows(service, "SELECT 1 FROM invitations.cycle WHERE id = :id", id=uuid.UUID(form["cycle_id"]))
                == []
            )

        form = start_form(tag, preferred_language="bsl", lm_manager_email=f"Director.{tag}@Example.nhs.uk")
        response = await service.client.post("/start", data=form)
        assert response.status_code == 303, response.text
        cycle_id = uuid.UUID(form["cycle_id"])
        announced = await cycle_opened(service, cycle_id)
        assert announced["management_line"] == [f"director.{tag}@example.nhs.uk", manager]
        assert announced["preferred_language"] == "bsl"

        plain = start_form(f"{tag}b")  # a form posted without the new fields still starts a 360
        assert (await service.client.post("/start", data=plain)).status_code == 303
        announced = await cycle_opened(service, uuid.UUID(plain["cycle_id"]))
        assert announced["management_line"] == [f"jo.{tag}b@example.nhs.uk"]
        assert announced["preferred_language"] is None


def _cohort_csv(path: Path, tag: str) -> list[str]:
    """4 good rows and 7 bad ones; returns the participant ids of the good ones."""

    def people(kind: str, n: int, who: str) -> str:
        return "; ".join(f"{kind.title()} {i} <{kind}{i}.{who}.{tag}@example.nhs.uk>" for i in range(1, n + 1))

    header = (
        "participant_id,given_name,family_name,email,organisation,region,line_manager_name,"
        "line_manager_email,peers,direct_reports,others,deadline\n"
    )
    lines = []
    good = []
    for n in range(1, 5):
        who = f"p{n}"
        good.append(f"ESR-{tag}-{n}")
        lines.append(
            f"ESR-{tag}-{n},Alex,Example{n},{who}.{tag}@example.nhs.uk,Trust {n},London,Manager {n},"
            f'lm.{who}.{tag}@example.nhs.uk,"{people("peer", 3, who)}","{people("rep", 3, who)}",,'
        )
    lines.append(f"ESR-{tag}-bad1,Sam,NoEmail,,Trust,London,Manager,lm.bad1.{tag}@example.nhs.uk,,,,")
    lines.append(
        f"ESR-{tag}-bad2,Sam,BadPeer,b2.{tag}@example.nhs.uk,Trust,London,M,lm.b2.{tag}@example.nhs.uk,"
        f'"Peer One peer1@example.nhs.uk",,,'
    )
    lines.append(
        f"ESR-{tag}-bad3,Sam,Self,b3.{tag}@example.nhs.uk,Trust,London,M,lm.b3.{tag}@example.nhs.uk,"
        f'"{people("peer", 2, "b3")}; Me <b3.{tag}@example.nhs.uk>",,,'
    )
    lines.append(
        f"ESR-{tag}-bad4,Sam,Date,b4.{tag}@example.nhs.uk,Trust,London,M,lm.b4.{tag}@example.nhs.uk,"
        f'"{people("peer", 3, "b4")}",,,31/12/2027'
    )
    lines.append(
        f"ESR-{tag}-bad5,Sam,Mail,b5.{tag}@example,Trust,London,M,lm.b5.{tag}@example.nhs.uk,"
        f'"{people("peer", 3, "b5")}",,,'
    )
    # issue 12: the participant's alias (other case, a +tag) as a peer; a peer at a consumer domain
    lines.append(
        f"ESR-{tag}-bad6,Sam,Alias,b6.{tag}@example.nhs.uk,Trust,London,M,lm.b6.{tag}@example.nhs.uk,"
        f'"{people("peer", 3, "b6")}; Friend <B6.{tag.upper()}+peer@Example.nhs.uk>",,,'
    )
    lines.append(
        f"ESR-{tag}-bad7,Sam,Gmail,b7.{tag}@example.nhs.uk,Trust,London,M,lm.b7.{tag}@example.nhs.uk,"
        f'"{people("peer", 2, "b7")}; Friend <friend.{tag}@gmail.com>",,,'
    )
    path.write_text(header + "\n".join(lines) + "\n")
    return good


async def test_cohort_csv_import_reports_bad_rows_by_line_imports_good_ones_and_is_idempotent(
    settings: StackSettings, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    csv_file = tmp_path / "cohort.csv"
    good = _cohort_csv(csv_file, tag)
    programme = f"Mary Seacole test cohort {tag}"
    account = f"MSP-{tag}"
    async with running_service("invitations", settings, **fast()) as service:
        env = {
            **os.environ,
            "INVITATIONS_DATABASE_URL": service.database_url,
            "INVITATIONS_LINK_SECRET": LINK_SECRET,
            "INVITATIONS_KAFKA_BOOTSTRAP_SERVERS": settings.hlm360_kafka_bootstrap_servers,
            "COLUMNS": "100",
        }

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "invitations", *args],
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=120,
            )

        topped = run("credits", "top-up", account, "--programme", programme, "--credits", "5")
        assert topped.returncode == 0 and f"{account}: 5 credit(s)" in topped.stderr, topped.stderr
        created = run("credits", "create", "MSP test", "--programme", programme, "--credits", "2")
        [code] = re.findall(r"MSP-TEST(?:-[0-9A-Z]{4}){5}", created.stderr)
        assert created.returncode == 0 and f"{code}: 2 credit(s)" in created.stderr, created.stderr
        deadline = (date.today() + timedelta(days=30)).isoformat()
        command = [
            "import-cohort",
            str(csv_file),
            "--programme",
            programme,
            "--deadline",
            deadline,
            "--funding-method",
            "programme_credit",
            "--funding-reference",
            account,
        ]
        first = run(*command)
        assert first.returncode == 1, first.stderr
        assert "Importing cohort" in first.stderr, "shows a progress bar"
        assert "imported 4, already present 0, bad rows 7" in first.stderr
        assert "line 6: missing email" in first.stderr
        assert "line 7: peers entry 1 is not written as Name <email>" in first.stderr
        assert "line 8: rater 4 is the participant" in first.stderr
        assert "line 9: deadline is not a date" in first.stderr
        assert "line 10: participant.email: value is not a valid email address" in first.stderr
        assert "line 11: rater 5 is the participant" in first.stderr
        assert (
            "line 12: rater 4: use their work email address: it must end @nhs.net, @nhs.uk or .nhs.uk" in first.stderr
        )
        assert "gmail" not in first.stderr and tag.upper() not in first.stderr
        assert "@example" not in "".join(line for line in first.stderr.splitlines() if line.startswith("line "))

        second = run(*command)
        assert "imported 0, already present 4, bad rows 7" in second.stderr, second.stderr
        ids = [cohort_cycle_id(programme=programme, participant_id=p) for p in good]
        found = await rows(service, "SELECT id FROM invitations.cycle WHERE id = ANY(:ids)", ids=ids)
        assert len(found) == 4
        shown = run("credits", "show", account)
        assert f"{account}: 1 credit(s) (ledger total 1)" in shown.stderr, "one credit per cycle, none twice"


async def test_cohort_csv_import_carries_management_line_and_language_and_reports_bad_ones_by_line(
    settings: StackSettings, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]

    def row(n: int, language: str, line: str) -> str:
        who = f"p{n}.{tag}"
        peers = "; ".join(f"Peer {i} <peer{i}.{who}@example.nhs.uk>" for i in (1, 2, 3))
        return (
            f"ESR-{tag}-{n},Alex,Example{n},{who}@example.nhs.uk,Trust,London,Manager {n},"
            f'lm.{who}@example.nhs.uk,"{peers}",,,{language},"{line}"'
        )

    csv_file = tmp_path / "cohort.csv"
    csv_file.write_text(
        "\n".join(
            [
                "participant_id,given_name,family_name,email,organisation,region,line_manager_name,line_manager_email,"
                "peers,direct_reports,others,preferred_language,management_line",
                row(
                    1,
                    "CY",
                    f"Director.p1.{tag}@example.nhs.uk; Chief <chief.p1.{tag}@example.nhs.uk>; "
                    f"LM.p1.{tag}@example.nhs.uk",
                ),
                row(2, "", ""),
                row(3, "Welsh", f"director.p3.{tag}@example.nhs.uk"),
                row(4, "en", f"director.p4.{tag}@example.nhs.uk; director.p4@"),
                row(5, "bsl", f"P5.{tag}@example.nhs.uk"),
            ]
        )
        + "\n"
    )
    programme = f"Cohort with lines {tag}"
    async with running_service("invitations", settings, **fast()) as service:
        env = {
            **os.environ,
            "INVITATIONS_DATABASE_URL": service.database_url,
            "INVITATIONS_LINK_SECRET": LINK_SECRET,
            "INVITATIONS_KAFKA_BOOTSTRAP_SERVERS": settings.hlm360_kafka_bootstrap_servers,
            "COLUMNS": "100",
        }
        deadline = (date.today() + timedelta(days=30)).isoformat()
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "invitations",
                "import-cohort",
                str(csv_file),
                "--programme",
                programme,
                "--deadline",
                deadline,
                "--funding-method",
                "purchase_order",
                "--funding-reference",
                f"PO-{tag}",
            ],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 1, run.stderr
        assert "imported 2, already present 0, bad rows 3" in run.stderr, run.stderr
        assert "line 4: preferred_language is not a language code such as en, cy or bsl" in run.stderr
        assert "line 5: management_line entry 2 is not a valid email address" in run.stderr
        assert "line 6: management_line entry 1 is the participant's own email address" in run.stderr
        assert "@example" not in "".join(line for line in run.stderr.splitlines() if line.startswith("line "))

        first = cohort_cycle_id(programme=programme, participant_id=f"ESR-{tag}-1")
        line = [f"director.p1.{tag}@example.nhs.uk", f"chief.p1.{tag}@example.nhs.uk", f"lm.p1.{tag}@example.nhs.uk"]
        assert await kept(service, first) == (line, "cy")
        announced = await cycle_opened(service, first)
        assert (announced["management_line"], announced["preferred_language"]) == (line, "cy")
        second = cohort_cycle_id(programme=programme, participant_id=f"ESR-{tag}-2")
        announced = await cycle_opened(service, second)
        assert (announced["management_line"], announced["preferred_language"]) == (
            [f"lm.p2.{tag}@example.nhs.uk"],
            None,
        )


def _mutations(good: dict[str, Any]) -> list[tuple[str, bytes, str]]:
    """Each kind of broken CycleRequested, with the words the dead-letter reason must contain."""

    def case(name: str, reason: str, **changes: Any) -> tuple[str, bytes, str]:
        body = {**good, "event_id": str(uuid.uuid4()), "cycle_id": str(uuid.uuid4()), **changes}
        return name, json.dumps({k: v for k, v in body.items() if v is not _DROP}).encode(), reason

    p, raters = good["participant"], good["raters"]
    lm, peer = raters[0], raters[1]
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    return [
        ("not-json", b"{this is not json", "invalid event"),
        ("json-array", b"[1, 2, 3]", "invalid event"),
        ("empty-object", b"{}", "participant: Field required"),
        case("no-participant", "participant: Field required", participant=_DROP),
        case("bad-participant-email", "participant.email", participant={**p, "email": "not-an-email"}),
        case("blank-given-name", "participant.given_name", participant={**p, "given_name": "   "}),
        case("name-too-long", "participant.family_name", participant={**p, "family_name": "x" * 201}),
        case("cycle-id-not-uuid", "cycle_id", cycle_id="cycle-7"),
        case("deadline-without-timezone", "deadline", deadline="2030-01-01T17:00:00"),
        case("deadline-not-a-date", "deadline", deadline="next Friday"),
        case("deadline-in-the-past", "rejected: the deadline must be at least", deadline=past),
        case("deadline-too-far", "within 90 days", deadline=(datetime.now(UTC) + timedelta(days=400)).isoformat()),
        case("unknown-funding-method", "funding.method", funding={"method": "cash", "reference": "X1"}),
        case("blank-funding-reference", "funding.reference", funding={"method": "purchase_order", "reference": ""}),
        case(
            "odd-funding-reference",
            "purchase order number must start",
            funding={"method": "purchase_order", "reference": "<script>"},
        ),
        case(
            "unknown-credit-account",
            "no programme credit account",
            funding={"method": "programme_credit", "reference": f"NOPE-{uuid.uuid4()}"},
        ),
        case("no-raters", "raters: List should have at least 1 item", raters=[]),
        case("too-many-raters", "raters: List should have at most 50", raters=[peer] * 51),
        case("rater-group-self", "raters.1.group", raters=[lm, {**peer, "group": "self"}]),
        case("rater-group-unknown", "raters.1.group", raters=[lm, {**peer, "group": "boss"}]),
        case("bad-rater-email", "raters.1.email", raters=[lm, {**peer, "email": "peer@"}]),
        case("duplicate-rater", "more than once (same email address as rater", raters=[*raters, peer]),
        case("participant-nominated", "is the participant", raters=[*raters, {**peer, "email": p["email"]}]),
        # issue 12: the participant's alias, a rater's alias, an address off the allow-list
        case(
            "participant-alias",
            "rater 10 is the participant",
            raters=[*raters, {**peer, "email": p["email"].upper().replace("@", "+peer@")}],
        ),
        case(
            "participant-at-nhs-net",
            "rater 10 is the participant",
            raters=[*raters, {**peer, "email": p["email"].split("@")[0] + "@nhs.net"}],
        ),
        case(
            "rater-alias",
            "rater 10 is nominated more than once (same email address as rater 2, ignoring case and any +tag)",
            raters=[*raters, {**peer, "email": peer["email"].title().replace("@", "+again@")}],
        ),
        case(
            "rater-off-list",
            "rater 10: use their work email address: it must end @nhs.net, @nhs.uk or .nhs.uk",
            raters=[*raters, {**peer, "email": "a.friend@gmail.com"}],
        ),
        case(
            "same-person-two-groups",
            "can only be in one group",
            raters=[*raters, {**peer, "group": "other", "name": "Again"}],
        ),
        case("no-line-manager", "exactly one line manager is needed (got 0)", raters=raters[1:]),
        case(
            "two-line-managers",
            "exactly one line manager is needed (got 2)",
            raters=[*raters, {**lm, "email": "second.manager@example.nhs.uk"}],
        ),
        case("too-few-peers", "at least 3 peers are needed (got 1)", raters=[lm, peer]),
        case("too-few-direct-reports", "at least 3 direct reports", raters=[r for r in raters if r != raters[4]]),
        case("schema-version-2", "schema_version", schema_version=2),
        case("wrong-event-type", "event_type", event_type="CycleOpened"),
        case("naive-occurred-at", "occurred_at", occurred_at="2026-01-01T09:00:00"),
        case("facilitator-id-not-uuid", "facilitator_id", facilitator_id="fac-1"),
        case("language-not-a-code", "participant.preferred_language", participant={**p, "preferred_language": "Welsh"}),
        case(
            "bad-management-line-email",
            "participant.management_line.1",
            participant={**p, "management_line": ["director@example.nhs.uk", "director@"]},
        ),
        case("missing-producer", "producer: Field required", producer=_DROP),
        case(
            "line-separator-in-given-name",
            "participant.given_name: must be one line of text",
            participant={**p, "given_name": "Amara\u2028Bcc: everyone@example.nhs.uk"},
        ),
        case(
            "next-line-in-family-name",
            "participant.family_name: must be one line of text",
            participant={**p, "family_name": "Oka\x85for"},
        ),
        case("nul-in-rater-name", "raters.1.name: must be one line of text", raters=[lm, {**peer, "name": "Sam\x00"}]),
        case("bidi-override-in-programme", "programme: must be one line of text", programme="Mary\u202eSeacole"),
        case(
            "carriage-return-in-organisation",
            "participant.organisation: must be one line of text",
            participant={**p, "organisation": "Example\rTrust"},
        ),
        case(
            "given-name-too-long",
            "participant.given_name: String should have at most 100",
            participant={**p, "given_name": "x" * 101},
        ),
    ]


_DROP: Any = object()


async def test_malformed_requests_are_dead_lettered_with_a_reason_and_a_valid_one_after_them_opens(
    settings: StackSettings,
) -> None:
    valid = request()
    good = json.loads(valid.model_dump_json())
    suspended = uuid.uuid4()
    cases = _mutations(good)
    cases.append(
        (
            "facilitator-suspended",
            json.dumps(
                {**good, "event_id": str(uuid.uuid4()), "cycle_id": str(uuid.uuid4()), "facilitator_id": str(suspended)}
            ).encode(),
            "the chosen facilitator is suspended",
        )
    )
    assert len(cases) >= 20
    async with (
        running_service("invitations", settings, **fast()) as service,
        TopicReader(settings.hlm360_kafka_bootstrap_servers, DEAD_LETTER_TOPIC) as dead_letters,
    ):
        await publish(
            settings,
            FacilitatorRegistered(
                producer="scheduling",
                facilitator_id=suspended,
                name="Suspended Facilitator",
                email="suspended@example.nhs.uk",
                region="London",
                organisation="Trust",
                monthly_capacity=4,
            ),
            FacilitatorAccredited(
                producer="scheduling",
                facilitator_id=suspended,
                elearning_score=90,
                elearning_passed_on=date(2025, 1, 1),
                course_completed_on=date(2025, 2, 1),
            ),
            FacilitatorStatusChanged(producer="scheduling", facilitator_id=suspended, status="suspended"),
        )

        async def known() -> list[Any] | None:
            found = await rows(
                service,
                "SELECT status, accredited, registered FROM invitations.facilitator WHERE id = :id",
                id=suspended,
            )
            return found if found and found[0].status == "suspended" and found[0].registered else None

        await eventually(known, timeout=60, what="the facilitator read model")
        run = uuid.uuid4().hex[:8]
        await publish(settings, *[(TOPIC, f"bad-{name}-{run}".encode(), body) for name, body, _ in cases], valid)
        consumer = f"{service.runtime.settings.consumer_group_prefix}.open-cycle"
        keys = {f"bad-{name}-{run}".encode(): (name, reason) for name, _, reason in cases}
        found = await dead_letters.wait_for(
            lambda r: r.key in keys and header(r, "x-dead-letter-consumer") == consumer, count=len(cases), timeout=90
        )
        seen = {}
        for record in found:
            name, reason = keys[record.key]
            seen[name] = header(record, "x-dead-letter-reason") or ""
            assert reason in seen[name], f"{name}: {seen[name]!r}"
            assert "@example" not in seen[name], f"{name}: reasons never echo email addresses"
            assert "gmail" not in seen[name].lower() and "+" not in seen[name].replace("+tag", ""), name
        assert set(seen) == {name for name, _, _ in cases}

        async def opened() -> list[Any] | None:
            return await rows(service, "SELECT id FROM invitations.cycle WHERE id = :id", id=valid.cycle_id) or None

        await eventually(opened, timeout=60, what="the valid request after the bad ones")
        bad_ids = [
            uuid.UUID(json.loads(body)["cycle_id"])
            for _, body, _ in cases
            if body.startswith(b'{"') and "cycle_id" in json.loads(body) and _is_uuid(json.loads(body)["cycle_id"])
        ]
        assert await rows(service, "SELECT id FROM invitations.cycle WHERE id = ANY(:ids)", ids=bad_ids) == []


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
