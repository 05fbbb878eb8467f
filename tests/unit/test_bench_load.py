"""The load of the scaling test and benchmark (deploy.bench): a rater's request whose instance went
away is sent again, a submission already stored counts once, and the cohort's keys cover every
partition. Against a small fake questionnaire behind httpx's mock transport."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from deploy.bench.cohort import Questionnaire, partition_of, spread_cycle_ids
from deploy.bench.load import LoadProgress, Raters, Refused
from shared.contracts.topics import PARTITIONS

START = '<a class="nhsuk-button" href="/r/t/1">Start now</a>'
PAGE = '<form action="/r/t/1" method="post"><input type="radio" name="item:a" value="3"></form>'


class FakeQuestionnaire:
    """One page and a check page; `fail` lists (method, path) answered 502 once each, after doing
    the work when `after_work` (an instance that stored the answers and died before it replied)."""

    def __init__(self, *fail: tuple[str, str], after_work: bool = False) -> None:
        self.fail = list(fail)
        self.after_work = after_work
        self.stored = 0
        self.calls: Counter[tuple[str, str]] = Counter()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        key = (request.method, request.url.path)
        self.calls[key] += 1
        if key in self.fail and not self.after_work:
            self.fail.remove(key)
            return httpx.Response(502)
        response = self._answer(key)
        if key in self.fail:
            self.fail.remove(key)
            return httpx.Response(502)
        return response

    def _answer(self, key: tuple[str, str]) -> httpx.Response:
        match key:
            case ("GET", "/r/t"):
                return httpx.Response(200, text=START)
            case ("GET", "/r/t/1"):
                return httpx.Response(200, text=PAGE)
            case ("POST", "/r/t/1"):
                return httpx.Response(303, headers={"Location": "/r/t/check"})
            case ("GET", "/r/t/check"):
                return httpx.Response(200, text="<form></form>")
            case ("POST", "/r/t/check"):
                if self.stored:
                    return httpx.Response(409, text="already sent")
                self.stored += 1
                return httpx.Response(303, headers={"Location": "/r/t/done"})
            case ("GET", "/r/t/done"):
                return httpx.Response(200, text="done")
        return httpx.Response(404)


async def answer(fake: FakeQuestionnaire) -> LoadProgress:
    progress = LoadProgress(total=1)
    async with httpx.AsyncClient(transport=httpx.MockTransport(fake), base_url="https://front.door") as http:
        await Raters(http, concurrency=1, attempts=3).answer(
            Questionnaire(cycle_id=spread_cycle_ids(1)[0], token="t"), progress
        )
    return progress


async def test_a_page_whose_instance_died_is_sent_again() -> None:
    fake = FakeQuestionnaire(("POST", "/r/t/1"))
    progress = await answer(fake)
    assert progress.sent == 1 and fake.stored == 1
    assert progress.resent == Counter({"502": 1})
    assert fake.calls[("POST", "/r/t/1")] == 2


async def test_answers_stored_before_the_instance_died_are_sent_again_and_count_once() -> None:
    fake = FakeQuestionnaire(("POST", "/r/t/check"), after_work=True)
    progress = await answer(fake)
    assert fake.stored == 1, "the second send was answered 'already sent', not stored again"
    assert progress.sent == 1 and progress.answered_already == 1


async def test_already_sent_on_a_first_submission_is_a_failure() -> None:
    fake = FakeQuestionnaire()
    fake.stored = 1  # someone else sent this rater's answers: the load must not count it as its own
    with pytest.raises(Refused):
        await answer(fake)


async def test_a_request_no_instance_answers_gives_up() -> None:
    fake = FakeQuestionnaire(*[("GET", "/r/t")] * 3)
    with pytest.raises(Refused):
        await answer(fake)


def test_the_cohort_s_cycles_fall_on_every_partition() -> None:
    assert {partition_of(cycle_id) for cycle_id in spread_cycle_ids(PARTITIONS)} == set(range(PARTITIONS))
