"""FastAPI dependencies the routes share: the runtime, settings, item bank and per-client limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from ratings.config import Settings
from shared.questionnaire import ItemBank
from shared.ratelimit import Counters, Limit
from shared.service import ServiceRuntime, runtime_of
from shared.web import item_bank_of


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]
Bank = Annotated[ItemBank, Depends(item_bank_of)]
Config = Annotated[Settings, Depends(settings_of)]


@dataclass(frozen=True)
class Limits:
    """Per-client limits: unknown links (guessing) and new self-assessments, counted in the database
    so that every instance shares them (docs/adr/0023)."""

    counters: Counters
    unknown_links: Limit
    self_assessment_starts: Limit

    @classmethod
    def of(cls, settings: Settings, counters: Counters) -> Limits:
        return cls(
            counters=counters,
            unknown_links=Limit.per(
                "unknown-link", hits=settings.unknown_link_limit, seconds=settings.unknown_link_window_seconds
            ),
            self_assessment_starts=Limit.per(
                "self-assessment-start",
                hits=settings.self_assessment_start_limit,
                seconds=settings.self_assessment_start_window_seconds,
            ),
        )

    async def may_try_unknown_link(self, client: str) -> bool:
        return await self.counters.allow(self.unknown_links, client)

    async def may_start_self_assessment(self, client: str) -> bool:
        return await self.counters.allow(self.self_assessment_starts, client)


def limits_of(runtime: Runtime, settings: Config) -> Limits:
    return Limits.of(settings, runtime.counters)


PerClient = Annotated[Limits, Depends(limits_of)]
