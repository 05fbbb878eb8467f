"""The observations journal's part of the authorisation matrix's seed: two accounts signed up
through the service's own use cases (the observer, with one recorded observation, and another
observer), a sign-up link not used yet, and each account's session cookie as its browser holds it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from observations import forms, links, usecases
from observations.config import Settings
from observations.domain import Profile
from shared.links import token_sha256
from tests.integration import authz_callers as who
from tests.integration.conftest import ServiceUnderTest
from tests.integration.observations_support import observation_form


@dataclass(frozen=True)
class Journals:
    path_values: dict[str, str]
    secrets: dict[tuple[str, str], str]
    cookies: dict[str, str]


async def _sign_up(service: ServiceUnderTest, settings: Settings, name: str) -> UUID:
    token = await _unused_link(service, settings)
    async with service.runtime.uow() as uow:
        used = await usecases.use_link(
            uow, token_hash=token_sha256(token), profile=Profile(display_name=name), now=datetime.now(UTC)
        )
        await uow.commit()
    assert used.account_id is not None, used
    return used.account_id


async def _unused_link(service: ServiceUnderTest, settings: Settings) -> str:
    keys = settings.signing_keys()
    async with service.runtime.uow() as uow:
        made = await usecases.request_sign_in(
            uow, email=f"matrix-{uuid4().hex[:8]}@nhs.net", keys=keys, now=datetime.now(UTC), minutes=60
        )
        await uow.commit()
    return links.link_token(keys, made.link_id)


async def seed_observations(service: ServiceUnderTest) -> Journals:
    settings: Settings = service.app.state.settings
    observer = await _sign_up(service, settings, "Matrix Observer")
    other = await _sign_up(service, settings, "Another Observer")
    form = observation_form()
    parsed = forms.parse_entry(form, form["dimensions"], today=datetime.now(UTC).date())
    async with service.runtime.uow() as uow:
        saved = await usecases.save_observation(
            uow, account_id=observer, observation_id=None, parsed=parsed, draft=False, now=datetime.now(UTC)
        )
        await uow.commit()
    assert saved.id is not None, saved
    now, day = datetime.now(UTC), timedelta(days=1)
    keys = settings.signing_keys()
    return Journals(
        path_values={"entry": str(saved.id)},
        # a sign-up link, which the matrix's empty form never uses up (the profile is missing)
        secrets={(who.OBSERVER, "sign_in"): await _unused_link(service, settings)},
        cookies={
            who.OBSERVER: links.issue(keys, observer, now=now, lifetime=day),
            who.OTHER_OBSERVER: links.issue(keys, other, now=now, lifetime=day),
        },
    )
