"""How a rater answers the questionnaire in the demo and e2e journeys: follow the personal link
and submit the pages over HTTP like a browser would (owned by the ratings service's flow)."""

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

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
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



async def answer_questionnaire(http: httpx.AsyncClient, link: str, *, rng: random.Random, leaning: int) -> None:
    """Open the personal link and submit every answer; raise if the service refuses."""
    page = await http.get(link)
    while page.status_code in (404, 503):  # ratings may not have seen the nomination yet
        await asyncio.sleep(0.25)
        page = await http.get(link)
    page.raise_for_status()
    form = FormReader()
    form.feed(page.text)
    submitted = await http.post(
        (form.action and httpx.URL(link).join(form.action)) or link,
        data=answers_for(form, rng, leaning=leaning),
        follow_redirects=True,
    )
    if submitted.status_code != 200:
        raise RuntimeError(f"submission failed: {submitted.status_code} {submitted.text[:500]}")
