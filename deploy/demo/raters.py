"""How a rater answers the questionnaire in the demo and e2e journeys: follow the personal link
and walk the pages over HTTP like a browser would (owned by the ratings service's flow):
start page -> one page per HLM dimension -> overall comments -> check your answers -> send."""

from __future__ import annotations

import asyncio
import random
from html.parser import HTMLParser

import httpx


class FormReader(HTMLParser):
    """Collects the questionnaire's fields: radio groups with their values, and text areas."""

    def __init__(self) -> None:
        super().__init__()
        self.radios: dict[str, list[str]] = {}
        self.textareas: list[str] = []
        self.hidden: dict[str, str] = {}
        self.action: str | None = None
        self.buttons: list[str] = []  # links styled as buttons, e.g. "Start now"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and "nhsuk-button" in (a.get("class") or "").split() and a.get("href"):
            self.buttons.append(a["href"] or "")
        if tag == "form" and self.action is None:
            self.action = a.get("action")
        if tag == "input" and a.get("name"):
            name = a["name"] or ""
            if a.get("type") == "radio":
                self.radios.setdefault(name, []).append(a.get("value") or "")
            elif a.get("type") == "hidden":
                self.hidden[name] = a.get("value") or ""
        if tag == "textarea" and a.get("name"):
            self.textareas.append(a["name"] or "")


def answers_for(form: FormReader, rng: random.Random, *, leaning: int) -> dict[str, str]:
    data = dict(form.hidden)
    for name, values in form.radios.items():
        scores = [v for v in values if v.isdigit()]
        if name.startswith("item:") and rng.random() < 0.08 and "na" in values:
            data[name] = "na"
        else:
            pick = min(max(leaning + rng.choice((-1, 0, 0, 1)), 1), 5)
            data[name] = str(pick) if str(pick) in scores else rng.choice(scores or values)
    for name in form.textareas:
        if name.endswith(("overall_strengths", "overall_development")) or rng.random() < 0.3:
            data[name] = rng.choice(
                [
                    "Listens carefully & makes time for the team — even on busy shifts.",
                    "Could share the 'why' behind decisions earlier; <b>not</b> just the what.",
                    "Brings people together across wards; 100% reliable #teamwork",
                    "Gives balanced feedback and follows up on actions.",
                ]
            )
    return data


def read_form(html: str) -> FormReader:
    form = FormReader()
    form.feed(html)
    return form


async def answer_questionnaire(http: httpx.AsyncClient, link: str, *, rng: random.Random, leaning: int) -> None:
    """Open the personal link, answer every page, check and send; raise if the service refuses."""
    deadline = asyncio.get_running_loop().time() + 120
    page = await http.get(link)
    # ratings may not have seen the nomination yet (404/503; 429 if many links were polled at once)
    while page.status_code in (404, 429, 503) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.25)
        page = await http.get(link)
    page.raise_for_status()
    start = read_form(page.text)
    if not start.buttons:
        raise RuntimeError(f"no start button on the rater's start page: {page.text[:500]}")
    page = await http.get(page.url.join(start.buttons[0]))
    for _ in range(50):  # nine dimension pages and the comments page; a guard against a loop
        page.raise_for_status()
        if page.url.path.endswith("/check"):
            break
        form = read_form(page.text)
        page = await http.post(
            page.url.join(form.action or page.url.path),
            data=answers_for(form, rng, leaning=leaning),
            follow_redirects=True,
        )
        if page.status_code != 200:
            raise RuntimeError(f"page refused: {page.status_code} {page.url.path} {page.text[:500]}")
    else:
        raise RuntimeError("the questionnaire never reached the check-your-answers page")
    sent = await http.post(page.url, follow_redirects=True)
    if sent.status_code != 200 or not sent.url.path.endswith("/done"):
        raise RuntimeError(f"submission failed: {sent.status_code} {sent.url.path} {sent.text[:500]}")
