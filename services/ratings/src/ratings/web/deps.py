"""FastAPI dependencies the routes share: the runtime, settings, item bank and per-client limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ratings.config import Settings
from shared.questionnaire import ItemBank
from shared.service import ServiceRuntime, runtime_of
from shared.web import RateLimiter


class Limits:
    """Per-client limits: unknown links (guessing) and new self-assessments. Kept on app.state."""

    def __init__(self, settings: Settings) -> None:
        self.unknown_links = RateLimiter(
            limit=settings.unknown_link_limit, window_seconds=settings.unknown_link_window_seconds
        )
        self.self_assessment_starts = RateLimiter(
            limit=settings.self_assessment_start_limit, window_seconds=settings.self_assessment_start_window_seconds
        )


def item_bank_of(request: Request) -> ItemBank:
    bank: ItemBank = request.app.state.item_bank
    return bank


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def limits_of(request: Request) -> Limits:
    limits: Limits = request.app.state.limits
    return limits


Runtime = Annotated[ServiceRuntime, Depends(runtime_of)]
Bank = Annotated[ItemBank, Depends(item_bank_of)]
Config = Annotated[Settings, Depends(settings_of)]
Limit = Annotated[Limits, Depends(limits_of)]


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"
