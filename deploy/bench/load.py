"""Raters answering their questionnaires at the same time through the front door, as browsers do:
start page, one page per dimension, comments, check, send. A request that fails because the
instance behind it went away (the connection drops, or the front door answers 502/503/504) is sent
again, as a person presses the button again; sending the answers again once they were stored is
answered "already sent" (409), never stored twice."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from deploy.bench.cohort import Questionnaire
from deploy.demo.raters import answers_for, read_form

GONE = frozenset({502, 503, 504})  # the instance died or is not there: the front door has no answer
ALREADY_SENT = 409
PAGE_GUARD = 50  # nine dimension pages and the comments page; a guard against a loop


class Refused(RuntimeError):
    """The service answered a rater's request with something a working questionnaire never shows."""


@dataclass
class LoadProgress:
    """What the raters have done so far (read while the load runs)."""

    total: int
    sent: int = 0
    resent: Counter[str] = field(default_factory=Counter)  # requests sent again, by why (status or error)
    answered_already: int = 0  # a resent submission that had been stored: "already sent"
    requests: int = 0
    sent_at: list[float] = field(default_factory=list)  # time.monotonic() of each stored submission


class Raters:
    """Runs `concurrency` raters at once, each answering questionnaires from a shared queue."""

    def __init__(self, http: httpx.AsyncClient, *, concurrency: int, attempts: int = 30) -> None:
        self._http = http
        self._concurrency = concurrency
        self._attempts = attempts

    async def answer_all(self, cohort: Sequence[Questionnaire], progress: LoadProgress) -> LoadProgress:
        queue: asyncio.Queue[Questionnaire] = asyncio.Queue()
        for questionnaire in cohort:
            queue.put_nowait(questionnaire)

        async def rater() -> None:
            while not queue.empty():
                questionnaire = queue.get_nowait()
                await self.answer(questionnaire, progress)

        async with asyncio.TaskGroup() as group:
            for _ in range(min(self._concurrency, len(cohort))):
                group.create_task(rater())
        return progress

    async def answer(self, questionnaire: Questionnaire, progress: LoadProgress) -> None:
        """Open the link, answer every page, check and send."""
        rng = random.Random(questionnaire.token)
        page, _ = await self._request("GET", f"/r/{questionnaire.token}", progress)
        start = read_form(page.text)
        if not start.buttons:
            raise Refused(f"no start button on a rater's start page ({page.status_code})")
        page, _ = await self._request("GET", str(page.url.join(start.buttons[0])), progress)
        for _ in range(PAGE_GUARD):
            if page.url.path.endswith("/check"):
                break
            form = read_form(page.text)
            answers = answers_for(form, rng, leaning=rng.choice((3, 4, 4, 5)))
            page, _ = await self._request("POST", str(page.url.join(form.action or page.url.path)), progress, answers)
        else:
            raise Refused("the questionnaire never reached the check-your-answers page")
        sent, retried = await self._request("POST", str(page.url), progress, accept=(ALREADY_SENT,))
        if sent.status_code == ALREADY_SENT:
            if not retried:
                raise Refused("a first submission was answered 'already sent'")
            progress.answered_already += 1
        elif not sent.url.path.endswith("/done"):
            raise Refused(f"the submission ended on {sent.url.path}, not the done page")
        progress.sent += 1
        progress.sent_at.append(time.monotonic())

    async def _request(
        self,
        method: str,
        url: str,
        progress: LoadProgress,
        data: dict[str, str] | None = None,
        *,
        accept: tuple[int, ...] = (),
    ) -> tuple[httpx.Response, bool]:
        """Send until an instance answers (following redirects); the answer, and whether it was sent again."""
        retried = False
        for attempt in range(self._attempts):
            progress.requests += 1
            try:
                response = await self._http.request(method, url, data=data, follow_redirects=True)
            except httpx.TransportError as error:
                why = type(error).__name__
            else:
                if response.status_code not in GONE:
                    if response.status_code != 200 and response.status_code not in accept:
                        raise Refused(f"{method} answered {response.status_code} on a rater's page")
                    return response, retried
                why = str(response.status_code)
            retried = True
            progress.resent[why] += 1
            await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
        raise Refused(f"{method} had no answer after {self._attempts} attempts")
