"""FastAPI dependencies of the console's routes: the settings, the pipeline feed, and the signed-in
operator (a page without a valid session cookie sends the browser to the sign-in page)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request

from console import session
from console.config import ConsoleSettings
from console.deadletters import DeadLetters
from console.lifecycle import LifecycleFeed


def settings_of(request: Request) -> ConsoleSettings:
    settings: ConsoleSettings = request.app.state.settings
    return settings


def feed_of(request: Request) -> LifecycleFeed:
    feed: LifecycleFeed = request.app.state.feed
    return feed


def letters_of(request: Request) -> DeadLetters:
    letters: DeadLetters = request.app.state.dead_letters
    return letters


Config = Annotated[ConsoleSettings, Depends(settings_of)]
Feed = Annotated[LifecycleFeed, Depends(feed_of)]
Letters = Annotated[DeadLetters, Depends(letters_of)]


class SignInFirst(Exception):
    """No valid session: the browser is sent to the sign-in page (303)."""


def signed_in(request: Request, settings: Config) -> str:
    subject = session.operator(settings.session_keys(), request.cookies.get(session.COOKIE), now=datetime.now(UTC))
    if subject is None:
        raise SignInFirst
    return subject


Operator = Annotated[str, Depends(signed_in)]
