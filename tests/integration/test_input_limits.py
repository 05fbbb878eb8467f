"""Limits at every edge, in-process against the real Kafka and PostgreSQL: a name holding a line
separator or a control character is refused where it comes in (JSON API: a 422 naming the field;
HTML forms: the form again with the error on the field; cohort CSV: the row by its line number),
never a 500, never stored, and the refusal never repeats the value."""

from __future__ import annotations

import html
import os
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text as sql

from invitations.domain import cohort_cycle_id
from ratings.config import DEFAULT_ITEM_BANK
from shared.contracts.events import RaterDeclined
from shared.contracts.text import MULTI_LINE_MESSAGE, SINGLE_LINE_MESSAGE
from shared.contracts.vocabulary import RaterGroup
from shared.questionnaire import load_item_bank
from tests.config import REPO, StackSettings
from tests.integration.conftest import running_service
from tests.integration.test_invitations_intake import cycle_opened, start_form
from tests.integration.test_invitations_support import (
    LINK_SECRET,
    api_body,
    fast,
    link_token,
    post_cycle,
    publish,
    request,
    rows,
)
from tests.support import eventually

SEPARATORS = {
    "line separator": "\u2028",
    "paragraph separator": "\u2029",
    "vertical tab": "\v",
    "next line": "\x85",
    "carriage return": "\r",
    "NUL": "\x00",
    "right-to-left override": "\u202e",
}


def _locations(response: Any) -> list[list[Any]]:
    return [item["loc"] for item in response.json()["detail"]]


async def test_api_cycle_request_refuses_control_characters_in_names_with_a_422_naming_the_field(
    settings: StackSettings,
) -> None:
    async with running_service("invitations", settings, **fast()) as service:
        for what, character in SEPARATORS.items():
            body = api_body(request())
            body["participant"]["given_name"] = f"Amara{character}Bcc: everyone@example.nhs.uk"
            refused = await service.client.post("/api/cycles", json=body)
            assert refused.status_code == 422, (what, refused.text)
            assert _locations(refused) == [["body", "participant", "given_name"]], what

            body = api_body(request())
            body["raters"][0]["name"] = f"Jo{character}Bloggs"
            refused = await service.client.post("/api/cycles", json=body)
            assert refused.status_code == 422, (what, refused.text)
            assert _locations(refused) == [["body", "raters", 0, "name"]], what
            assert await rows(service, "SELECT 1 FROM invitations.cycle") == [], "nothing is stored"

        for field, value in (("programme", "Mary\u2028Seacole"), ("programme", "x" * 201)):
            body = api_body(request()) | {field: value}
            refused = await service.client.post("/api/cycles", json=body)
            assert refused.status_code == 422 and _locations(refused) == [["body", field]], refused.text

        # an empty programme means none (as on the start page): no 500, the cycle opens without one
        for blank in ("", "   "):
            event = request()
            accepted = await service.client.post("/api/cycles", json=api_body(event) | {"programme": blank})
            assert accepted.status_code == 202, accepted.text
            opened = uuid.UUID(accepted.json()["cycle_id"])
            [cycle] = await rows(service, "SELECT programme FROM invitations.cycle WHERE id = :id", id=opened)
            assert cycle.programme is None

        # real names with accents, apostrophes, hyphens and other scripts go all the way through
        event = request()
        body = api_body(event)
        body["participant"] |= {"given_name": "Siân", "family_name": "O'Neill-Jones"}
        body["raters"][1]["name"] = "李雷"
        body["raters"][2]["name"] = "Zoë"
        accepted = await service.client.post("/api/cycles", json=body)
        assert accepted.status_code == 202, accepted.text
        opened = uuid.UUID(accepted.json()["cycle_id"])
        announced = await cycle_opened(service, opened)
        assert announced["participant_name"] == "Siân O'Neill-Jones"
        names = await rows(service, "SELECT name FROM invitations.rater WHERE cycle_id = :id", id=opened)
        assert {"李雷", "Zoë"} <= {r.name for r in names}


async def test_start_page_shows_the_form_again_with_the_error_on_the_field(settings: StackSettings) -> None:
    tag = uuid.uuid4().hex[:8]
    async with running_service("invitations", settings, **fast()) as service:
        for changes, field_id, message in (
            ({"given_name": "Amara\u2028Okafor"}, "given-name", f"First name {SINGLE_LINE_MESSAGE}"),
            ({"family_name": "Oka\x85for"}, "family-name", f"Last name {SINGLE_LINE_MESSAGE}"),
            ({"family_name": "O" * 101}, "family-name", "Last name must be 100 characters or fewer"),
            ({"organisation": "Example\x00Trust"}, "organisation", f"Organisation {SINGLE_LINE_MESSAGE}"),
            ({"programme": "Mary\u202eSeacole"}, "programme", f"Leadership programme {SINGLE_LINE_MESSAGE}"),
            ({"lm_name": "Jo\rBloggs"}, "lm-name", f"Your line manager: their name {SINGLE_LINE_MESSAGE}"),
            ({"peer_2_name": "Peer\u20292"}, "peer-2-name", f"Peer 2: their name {SINGLE_LINE_MESSAGE}"),
            (
                {"report_1_name": "R" * 201},
                "report-1-name",
                "Direct report 1: their name must be 200 characters or fewer",
            ),
            (
                {"deadline_year": "99999999999999999999"},
                "deadline-day",  # was an OverflowError: a 500
                "Enter the date feedback closes as a real date",
            ),
        ):
            form = start_form(tag, **changes)
            refused = await service.client.post("/start", data=form)
            assert refused.status_code == 422, (changes, refused.text[:500])
            text = html.unescape(refused.text)
            assert "There is a problem" in text and f'href="#{field_id}"' in text, changes
            assert message[0].upper() + message[1:] in text, (changes, message)
            error_id = "deadline-error" if field_id == "deadline-day" else f"{field_id}-error"  # a date's fieldset
            assert f'id="{error_id}"' in text, "the error is shown on the field itself"
            assert (
                await rows(service, "SELECT 1 FROM invitations.cycle WHERE id = :id", id=uuid.UUID(form["cycle_id"]))
                == []
            )

        form = start_form(tag, given_name="Siân", family_name="O'Neill-Jones", peer_1_name="李雷", programme="")
        started = await service.client.post("/start", data=form)
        assert started.status_code == 303, started.text
        assert (await cycle_opened(service, uuid.UUID(form["cycle_id"])))["participant_name"] == "Siân O'Neill-Jones"


async def test_replacement_form_refuses_a_name_with_a_line_separator(settings: StackSettings) -> None:
    event = request()
    peer = str(event.raters[1].email).lower()
    async with running_service("invitations", settings, **fast()) as service:
        event = await post_cycle(service.client, event)
        [row] = await rows(
            service,
            "SELECT id FROM invitations.rater WHERE cycle_id = :c AND lower(email) = :e",
            c=event.cycle_id,
            e=peer,
        )
        await publish(
            settings, RaterDeclined(producer="ratings", cycle_id=event.cycle_id, rater_id=row.id, group=RaterGroup.PEER)
        )

        async def declined() -> bool:
            return bool(
                await rows(service, "SELECT 1 FROM invitations.rater WHERE id = :r AND status = 'declined'", r=row.id)
            )

        await eventually(declined, timeout=60, what="the decline")
        token = link_token("participant", event.cycle_id)
        url = f"/p/{event.cycle_id}/{token}/replace/{row.id}"
        refused = await service.client.post(url, data={"name": "Kim\u2028Bcc", "email": "kim@example.nhs.uk"})
        assert refused.status_code == 422
        text = html.unescape(refused.text)
        assert f"Their name {SINGLE_LINE_MESSAGE}" in text and 'href="#name"' in text
        replaced = await service.client.post(url, data={"name": "Zoë O'Neill", "email": "kim@example.nhs.uk"})
        assert replaced.status_code == 303, replaced.text


async def test_cohort_import_refuses_rows_with_control_characters_by_line_and_imports_the_rest(
    settings: StackSettings, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]

    def row(n: int, *, given: str = "Alex", organisation: str = "Trust", extra: str = "") -> str:
        who = f"p{n}.{tag}"
        peers = "; ".join(f"Peer {i} <peer{i}.{who}@example.nhs.uk>" for i in (1, 2, 3))
        return (
            f"ESR-{tag}-{n},{given},Example{n},{who}@example.nhs.uk,{organisation},London,Manager {n},"
            f'lm.{who}@example.nhs.uk,"{peers}",,{extra}'
        )

    csv_file = tmp_path / "cohort.csv"
    csv_file.write_text(
        "\n".join(
            [
                "participant_id,given_name,family_name,email,organisation,region,line_manager_name,line_manager_email,"
                "peers,direct_reports,others",
                row(1, given="Siân"),
                row(2, given="Alex\u2028Secret"),
                row(3, organisation="Trust\x00Secret"),
                row(4, extra=",surplus"),
                row(5, given='"Alex\nSecret"'),
                row(7, given="Z" * 101),
                row(8, given="Zoë"),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    programme = f"Limits cohort {tag}"
    async with running_service("invitations", settings, **fast()) as service:
        env = {
            **os.environ,
            "INVITATIONS_DATABASE_URL": service.database_url,
            "INVITATIONS_LINK_SECRET": LINK_SECRET,
            "INVITATIONS_KAFKA_BOOTSTRAP_SERVERS": settings.hlm360_kafka_bootstrap_servers,
            "COLUMNS": "200",
        }
        deadline = (date.today() + timedelta(days=30)).isoformat()

        def run(path: Path) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "invitations",
                    "import-cohort",
                    str(path),
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

        done = run(csv_file)
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        assert "imported 2, already present 0, bad rows 5" in done.stderr, done.stderr
        assert f"line 3: given_name {SINGLE_LINE_MESSAGE}" in done.stderr
        assert f"line 4: organisation {SINGLE_LINE_MESSAGE}" in done.stderr
        assert "line 5: has 12 fields but the header row has 11" in done.stderr
        assert f"line 6: given_name {SINGLE_LINE_MESSAGE}" in done.stderr, "a quoted field over two lines"
        assert "line 8: given_name must be 100 characters or fewer" in done.stderr
        reported = "".join(line for line in done.stderr.splitlines() if line.startswith("line "))
        assert "Secret" not in reported and "@example" not in reported, "the reasons never repeat the value"
        for n, name in ((1, "Siân"), (8, "Zoë")):
            cycle_id = cohort_cycle_id(programme=programme, participant_id=f"ESR-{tag}-{n}")
            assert (await cycle_opened(service, cycle_id))["participant_name"] == f"{name} Example{n}"

        latin1 = tmp_path / "latin1.csv"
        latin1.write_bytes(csv_file.read_text(encoding="utf-8").replace("\u2028", "").encode("latin-1", "replace"))
        refused = run(latin1)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
        assert "is not UTF-8 text (first at line 2); save it as CSV UTF-8" in refused.stderr


async def test_reports_cohort_api_refuses_a_programme_with_a_line_separator(settings: StackSettings) -> None:
    async with running_service("reports", settings) as service:
        refused = await service.admin.post("/api/cohorts", json={"programme": "Mary\u2028Seacole"})
        assert refused.status_code == 422 and _locations(refused) == [["body", "programme"]], refused.text


async def test_self_assessment_comments_keep_lines_and_refuse_control_characters_without_a_500(
    settings: StackSettings,
) -> None:
    bank = load_item_bank(DEFAULT_ITEM_BANK)
    async with running_service("ratings", settings) as service:
        started = await service.client.post("/self-assessment")
        assert started.status_code == 303
        base = started.headers["location"].removesuffix("/1")
        section = bank.dimensions[0]
        page = {f"item:{item.id}": "4" for item in section.items} | {f"importance:{section.dimension.value}": "3"}
        comment = f"comment:{section.comment_id}"

        for character in ("\x00", "\v", "\u2028", "\x85"):
            refused = await service.client.post(f"{base}/1", data=page | {comment: f"Calm{character}Kind"})
            assert refused.status_code == 400, (repr(character), refused.status_code)
            text = html.unescape(refused.text)
            assert "There is a problem" in text and MULTI_LINE_MESSAGE in text, repr(character)
        nul_item = await service.client.post(f"{base}/1", data=page | {f"item:{section.items[0].id}": "4\x00"})
        assert nul_item.status_code == 400

        saved = await service.client.post(f"{base}/1", data=page | {comment: "Calm.\r\nKind."})
        assert saved.status_code == 303, saved.text
        async with service.runtime.uow() as uow:
            drafts = (await uow.session.execute(sql("SELECT answers FROM ratings.draft"))).scalars().all()
        assert [answers[comment] for answers in drafts] == ["Calm.\nKind."], "one draft, its lines kept"
