"""Accounts without passwords: ask for a one-time link by email, use it once to sign in (or to
create the account, giving a display name and optional programme), and forget old links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select

from observations import domain, links
from observations.domain import FieldError, LinkState, Profile
from observations.tables import Account, OutgoingEmail, SignInLink
from shared.db import UnitOfWork
from shared.links import SigningKeys, token_sha256
from shared.mail_outbox import queue_email

SIGN_IN = "sign_in"
SIGN_UP = "sign_up"
# Used and expired links are kept a day (a second click says "already used", not "unknown").
KEEP_OLD_LINKS = timedelta(days=1)


@dataclass(frozen=True)
class AccountView:
    id: UUID
    email: str
    display_name: str
    programme: str | None


def _view(account: Account) -> AccountView:
    return AccountView(account.id, account.email, account.display_name, account.programme)


async def account(uow: UnitOfWork, account_id: UUID) -> AccountView | None:
    """The signed-in account, if it still exists."""
    found = await uow.session.get(Account, account_id)
    return _view(found) if found else None


async def _account_by_email(uow: UnitOfWork, email: str) -> Account | None:
    return (await uow.session.exec(select(Account).where(col(Account.email) == email))).first()


@dataclass(frozen=True)
class SignInRequest:
    kind: str  # SIGN_IN or SIGN_UP (the page says the same either way)
    link_id: UUID


async def request_sign_in(
    uow: UnitOfWork, *, email: str, keys: SigningKeys, now: datetime, minutes: float
) -> SignInRequest:
    """Email a one-time link to `email` (already normalised): to sign in if it has an account, else
    to create one."""
    existing = await _account_by_email(uow, email)
    link_id = uuid4()
    uow.session.add(
        SignInLink(
            id=link_id,
            token_sha256=token_sha256(links.link_token(keys, link_id)),
            email=email,
            account_id=existing.id if existing else None,
            created_at=now,
            expires_at=domain.link_expiry(now, minutes=minutes),
        )
    )
    await uow.session.flush()
    kind = SIGN_IN if existing else SIGN_UP
    queue_email(uow, OutgoingEmail(kind=kind, link_id=link_id, created_at=now, next_attempt_at=now))
    return SignInRequest(kind, link_id)


@dataclass(frozen=True)
class LinkUse:
    """What happened to a one-time link: not found (None state), not usable, the profile form's
    problems (a new account), or the account now signed in."""

    state: LinkState | None
    new_account: bool = False
    account_id: UUID | None = None
    errors: tuple[FieldError, ...] = ()


async def _link(uow: UnitOfWork, token_hash: str, *, lock: bool) -> SignInLink | None:
    statement = select(SignInLink).where(col(SignInLink.token_sha256) == token_hash)
    if lock:
        statement = statement.with_for_update()
    return (await uow.session.exec(statement)).first()


async def check_link(uow: UnitOfWork, *, token_hash: str, now: datetime) -> LinkUse:
    """What a one-time link is (read only: opening it, or a mail scanner fetching it, uses nothing)."""
    link = await _link(uow, token_hash, lock=False)
    if link is None:
        return LinkUse(state=None)
    state = domain.link_state(expires_at=link.expires_at, used_at=link.used_at, now=now)
    return LinkUse(state=state, new_account=link.account_id is None)


async def use_link(
    uow: UnitOfWork, *, token_hash: str, profile: Profile | tuple[FieldError, ...] | None, now: datetime
) -> LinkUse:
    """Use a one-time link, once: sign in to its account, or create the account from `profile`
    (a sign-up link whose profile has errors is left unused, to try again)."""
    link = await _link(uow, token_hash, lock=True)
    if link is None:
        return LinkUse(state=None)
    state = domain.link_state(expires_at=link.expires_at, used_at=link.used_at, now=now)
    if state is not LinkState.USABLE:
        return LinkUse(state=state, new_account=link.account_id is None)
    account_id = link.account_id
    if account_id is None:
        existing = await _account_by_email(uow, link.email)
        if existing is not None:
            account_id = existing.id
        elif isinstance(profile, Profile):
            account_id = await _create_account(uow, email=link.email, profile=profile)
        else:
            return LinkUse(state=state, new_account=True, errors=profile or ())
    link.used_at = now
    uow.session.add(link)
    return LinkUse(state=LinkState.USED, new_account=link.account_id is None, account_id=account_id)


async def _create_account(uow: UnitOfWork, *, email: str, profile: Profile) -> UUID:
    """The new account's id; if another link to the same mailbox created it meanwhile (two sign-up
    links used at once), that account is theirs: one mailbox, one account."""
    values = {"id": uuid4(), "email": email, "display_name": profile.display_name, "programme": profile.programme}
    await uow.session.execute(insert(Account).values(**values).on_conflict_do_nothing(index_elements=["email"]))
    return (await uow.session.exec(select(Account.id).where(col(Account.email) == email))).one()


async def forget_old_links(uow: UnitOfWork, *, now: datetime) -> int:
    """Delete the sign-in links expired more than a day ago; how many went."""
    result = await uow.session.execute(
        delete(SignInLink).where(col(SignInLink.expires_at) < now - KEEP_OLD_LINKS).returning(col(SignInLink.id))
    )
    return len(result.all())
