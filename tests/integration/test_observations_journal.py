"""Issue 15 item 2 on PostgreSQL, through the pages: record an observation (dimensions and levels in
the 360's wording), see it listed, filter by dimension and date, edit it, delete it after a
confirmation; a draft kept on the server and found again from another browser; bad input
re-displayed with an error summary; another account's entries are not found."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from observations.config import DEFAULT_ITEM_BANK
from shared.questionnaire import load_item_bank
from tests.config import StackSettings
from tests.integration.conftest import ServiceUnderTest
from tests.integration.observations_support import (
    ask_for_link,
    browser,
    emailed_link,
    observation_form,
    observations_service,
    signed_up,
)
from tests.integration.test_invitations_support import CaptureHandler, rows

BANK = load_item_bank(DEFAULT_ITEM_BANK)
Running = tuple[ServiceUnderTest, CaptureHandler]
ENTRY = re.compile(r"^/observations/entries/([0-9a-f-]{36})\?saved=1$")


@pytest.fixture(scope="module")
async def running(settings: StackSettings) -> AsyncIterator[Running]:
    async with observations_service(settings) as service:
        yield service


async def record(client: httpx.AsyncClient, **changes: object) -> str:
    """Post a complete observation; its entry's path."""
    response = await client.post("/observations/entries/new", data=observation_form(**changes))
    assert response.status_code == 303, response.text
    match = ENTRY.match(response.headers["location"])
    assert match, response.headers["location"]
    return f"/observations/entries/{match.group(1)}"


def wording(dimension: str, level: str, *, first_person: bool) -> str:
    section = next(s for s in BANK.dimensions if s.dimension.value == dimension)
    item = next(i for i in section.items if i.level.value == level)
    return item.for_rater(self_rating=first_person)


async def test_an_observation_is_recorded_shown_in_the_360s_wording_and_listed(running: Running) -> None:
    service, mail = running
    client, _ = await signed_up(service, mail)
    form = await client.get("/observations/entries/new")
    assert form.status_code == 200
    for section in BANK.dimensions:
        assert section.title in form.text
    assert "Do not include anything that could identify a patient or a colleague" in form.text
    assert 'name="whose"' in form.text and 'name="name"' not in form.text

    path = await record(client)
    shown = await client.get(path + "?saved=1")
    assert shown.status_code == 200 and "Your observation is saved" in shown.text
    assert "Engaging the team: Strong" in shown.text
    assert wording("engaging_the_team", "strong", first_person=False) in shown.text
    assert "3 February 2026" in shown.text and "Someone I work with" in shown.text

    mine = await record(
        client, whose="mine", dimensions=["leading_with_care"], **{"level-leading_with_care": "essential"}
    )
    assert wording("leading_with_care", "essential", first_person=True) in (await client.get(mine)).text
    journal = await client.get("/observations/entries")
    assert journal.status_code == 200 and path in journal.text and mine in journal.text


async def test_bad_input_is_re_displayed_with_an_error_summary_and_nothing_is_stored(running: Running) -> None:
    service, mail = running
    client, email = await signed_up(service, mail)
    bad = observation_form(
        **{"observed_on-day": "31", "observed_on-month": "2"},
        whose="",
        dimensions=["engaging_the_team", "holding_to_account"],
        what_happened="",
        context="x" * 3000,
    )
    refused = await client.post("/observations/entries/new", data=bad)
    assert refused.status_code == 400 and "There is a problem" in refused.text
    for anchor in ("observed_on-day", "whose-1", "level-holding_to_account-1", "what_happened", "context"):
        assert f'href="#{anchor}"' in refused.text, anchor
    assert "Two concerns came up" in refused.text, "what was written is shown again"
    future = observation_form(**{"observed_on-year": "2999"})
    assert "today or in the past" in (await client.post("/observations/entries/new", data=future)).text
    none = observation_form(dimensions=[])
    assert 'href="#dimensions-1"' in (await client.post("/observations/entries/new", data=none)).text
    count = await rows(
        service,
        "SELECT count(*) AS n FROM observations.observation o JOIN observations.account a ON a.id = o.account_id "
        "WHERE a.email = :e",
        e=email.casefold(),
    )
    assert count[0].n == 0


async def test_the_list_filters_by_dimension_and_date(running: Running) -> None:
    service, mail = running
    client, _ = await signed_up(service, mail)
    january = await record(client, **{"observed_on-month": "1"})
    march = await record(
        client,
        **{"observed_on-month": "3", "level-holding_to_account": "proficient"},
        dimensions=["holding_to_account"],
    )
    by_dimension = await client.get("/observations/entries", params={"dimension": "holding_to_account"})
    assert march in by_dimension.text and january not in by_dimension.text
    by_date = await client.get("/observations/entries", params={"from": "2026-02-01", "to": "2026-12-31"})
    assert march in by_date.text and january not in by_date.text
    until = await client.get("/observations/entries", params={"to": "2026-01-31"})
    assert january in until.text and march not in until.text
    refused = await client.get("/observations/entries", params={"dimension": "nope", "from": "yesterday"})
    assert refused.status_code == 400 and 'href="#dimension"' in refused.text and 'href="#from"' in refused.text


async def test_an_observation_is_edited_then_deleted_after_a_confirmation(running: Running) -> None:
    service, mail = running
    client, _ = await signed_up(service, mail)
    path = await record(client)
    form = await client.get(path + "/edit")
    assert form.status_code == 200 and "Save as draft" not in form.text, "a recorded entry never goes back to draft"
    assert 'value="strong" aria-describedby="level-engaging_the_team-3-hint" checked' in form.text
    edited = await client.post(path + "/edit", data=observation_form(impact="The plan changed."))
    assert edited.status_code == 303
    assert "The plan changed." in (await client.get(path)).text

    confirm = await client.get(path + "/delete")
    assert confirm.status_code == 200 and "Yes, delete it" in confirm.text
    assert (await client.get(path)).status_code == 200, "asking deletes nothing"
    assert (await client.post(path + "/delete")).status_code == 400, "only the confirmation button deletes"
    deleted = await client.post(path + "/delete", data={"confirm": "yes"})
    assert deleted.status_code == 303 and deleted.headers["location"] == "/observations/entries"
    assert (await client.get(path)).status_code == 404
    assert (await client.post(path + "/delete", data={"confirm": "yes"})).status_code == 404


async def test_a_draft_is_kept_on_the_server_and_found_from_another_browser(running: Running) -> None:
    service, mail = running
    client, email = await signed_up(service, mail)
    partial = {"what_happened": "Half-written", "whose": "", "dimensions": [], "action": "draft"}
    saved = await client.post("/observations/entries/new", data=observation_form(**partial))
    assert saved.status_code == 303
    draft = saved.headers["location"].split("?")[0]
    assert "Your draft is saved" in (await client.get(draft + "?saved=1")).text

    elsewhere = browser(service)
    await ask_for_link(elsewhere, email)
    await elsewhere.post(await emailed_link(mail, email, "sign_in"))
    journal = await elsewhere.get("/observations/entries")
    assert f'href="{draft}/edit"' in journal.text and "You have not recorded any observations yet" in journal.text
    resumed = await elsewhere.get(draft + "/edit")
    assert "Half-written" in resumed.text and "Save as draft" in resumed.text

    recorded = await elsewhere.post(draft + "/edit", data=observation_form())
    assert recorded.status_code == 303
    journal = await elsewhere.get("/observations/entries")
    assert f'href="{draft}"' in journal.text and f'href="{draft}/edit"' not in journal.text


async def test_another_accounts_entries_are_not_found_and_signed_out_callers_are_refused(running: Running) -> None:
    service, mail = running
    owner, _ = await signed_up(service, mail)
    stranger, _ = await signed_up(service, mail)
    path = await record(owner)
    for method, suffix in (("GET", ""), ("GET", "/edit"), ("POST", "/edit"), ("GET", "/delete"), ("POST", "/delete")):
        form = {**observation_form(), "confirm": "yes"} if method == "POST" else None
        response = await stranger.request(method, path + suffix, data=form)
        assert response.status_code == 404, (method, suffix)
    assert (await owner.get(path)).status_code == 200, "the stranger changed nothing"
    assert (await stranger.get(f"/observations/entries/{uuid.uuid4()}")).status_code == 404
    assert (await stranger.get("/observations/entries/not-an-id")).status_code == 404
    anonymous = browser(service)
    for method, route in (("GET", "/observations/entries"), ("GET", path), ("POST", "/observations/entries/new")):
        assert (await anonymous.request(method, route)).status_code == 401, route
    assert (await anonymous.get("/observations")).status_code == 200


async def test_hostile_input_is_refused_with_a_reason_or_kept_as_typed_and_escaped(running: Running) -> None:
    service, mail = running
    client, _ = await signed_up(service, mail)
    for changes in (
        {"what_happened": "a\x00b"},  # a control character
        {"context": "x" * 5_000},  # longer than a context may be
        {"dimensions": ["not_a_dimension"]},  # not in the item bank
        {"level-engaging_the_team": "'; DROP TABLE observation; --"},  # not a level
        {"whose": "someone else"},  # not a choice
    ):
        refused = await client.post("/observations/entries/new", data=observation_form(**changes))
        assert refused.status_code == 400 and "There is a problem" in refused.text, changes
    huge = await client.post("/observations/entries/new", data=observation_form(context="x" * 2_000_000))
    assert huge.status_code == 413
    invalid_utf8 = await client.post(
        "/observations/entries/new",
        content=b"context=%FF%FE&what_happened=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert invalid_utf8.status_code < 500, invalid_utf8.status_code
    hostile = "<script>alert(1)</script> & Zoë\u2019s ward 😀"
    listed = await record(client, what_happened=hostile)
    shown = await client.get("/observations/entries")
    assert listed in shown.text
    entry = await client.get(listed)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Zoë\u2019s ward 😀" in entry.text
    assert "<script>alert(1)</script>" not in entry.text
