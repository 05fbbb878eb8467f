"""FastAPI dependencies the routes share: the runtime, settings, item bank, the signed-in account
(from the session cookie, pure) and the per-client and per-mailbox limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request

from observations import links
from observations.config import Settings
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


def signed_in_account(request: Request, settings: Config) -> UUID | None:
    """The account the session cookie names, if it is ours and in date (no database read: the use
    cases scope every query to it, so an account deleted meanwhile finds nothing)."""
    cookie = request.cookies.get(links.COOKIE)
    return links.account_of(settings.signing_keys(), cookie, now=datetime.now(UTC))


SignedIn = Annotated[UUID | None, Depends(signed_in_account)]


@dataclass(frozen=True)
class Limits:
    """Per-client and per-mailbox limits on sign-in links, counted in the database so that every
    instance shares them (docs/adr/0023)."""

    counters: Counters
    requests_per_client: Limit
    emails_per_mailbox: Limit
    unknown_links: Limit

    @classmethod
    def of(cls, settings: Settings, counters: Counters) -> Limits:
        return cls(
            counters=counters,
            requests_per_client=Limit.per(
                "sign-in-client", hits=settings.sign_in_requests_per_client_per_hour, seconds=3600
            ),
            emails_per_mailbox=Limit.per(
                "sign-in-mailbox", hits=settings.sign_in_emails_per_mailbox_per_hour, seconds=3600
            ),
            unknown_links=Limit.per(
                "unknown-sign-in-link", hits=settings.unknown_links_per_client_per_minute, seconds=60
            ),
        )

    async def client_may_ask(self, client: str) -> bool:
        return await self.counters.allow(self.requests_per_client, client)

    async def mailbox_may_receive(self, email: str) -> bool:
        return await self.counters.allow(self.emails_per_mailbox, email)

    async def may_try_unknown_link(self, client: str) -> bool:
        return await self.counters.allow(self.unknown_links, client)


def limits_of(runtime: Runtime, settings: Config) -> Limits:
    return Limits.of(settings, runtime.counters)


PerClient = Annotated[Limits, Depends(limits_of)]
