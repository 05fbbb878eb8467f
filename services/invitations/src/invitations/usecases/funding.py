"""Programme credits: take one for a cycle, refund it, top an account up, show its balance. Every
movement is also a ledger entry."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from invitations.domain import CreditRefused, new_credit_code
from invitations.tables import CreditAccount, CreditEntry, Cycle
from shared.contracts.vocabulary import FundingMethod
from shared.db import UnitOfWork
from shared.errors import Rejected


async def use_credit(uow: UnitOfWork, *, reference: str, cycle_id: UUID) -> int:
    """Take one credit for a cycle. The conditional UPDATE takes the row lock, so concurrent
    requests queue on it and the last credit goes to exactly one of them."""
    result = await uow.session.execute(
        update(CreditAccount)
        .where(col(CreditAccount.reference) == reference, col(CreditAccount.balance) > 0)
        .values(balance=col(CreditAccount.balance) - 1)
        .returning(col(CreditAccount.balance))
    )
    remaining = result.scalar_one_or_none()
    if remaining is None:
        if await uow.session.get(CreditAccount, reference) is None:
            raise CreditRefused("there is no programme credit account with that reference")
        raise CreditRefused("the programme credit account has no credits left; ask the programme team to buy more")
    uow.session.add(CreditEntry(reference=reference, kind="debit", delta=-1, cycle_id=cycle_id))
    return int(remaining)


async def check_credit(uow: UnitOfWork, *, reference: str) -> None:
    """Refuse as use_credit would, taking nothing (a request that waits for confirmation)."""
    account = await uow.session.get(CreditAccount, reference)
    if account is None:
        raise CreditRefused("there is no programme credit account with that reference")
    if account.balance <= 0:
        raise CreditRefused("the programme credit account has no credits left; ask the programme team to buy more")


async def refund_credit(uow: UnitOfWork, cycle: Cycle) -> None:
    if cycle.funding_method != FundingMethod.PROGRAMME_CREDIT.value:
        return
    inserted = await uow.session.execute(
        insert(CreditEntry)
        .values(reference=cycle.funding_reference, kind="refund", delta=1, cycle_id=cycle.id)
        .on_conflict_do_nothing()
        .returning(col(CreditEntry.id))
    )
    if inserted.first() is not None:
        await uow.session.execute(
            update(CreditAccount)
            .where(col(CreditAccount.reference) == cycle.funding_reference)
            .values(balance=col(CreditAccount.balance) + 1)
        )


async def top_up_credits(uow: UnitOfWork, *, reference: str, programme: str, credits: int, note: str = "") -> int:
    """Add pre-paid credits to a programme's account (created on first top-up); returns the balance."""
    if credits <= 0:
        raise Rejected("a top-up must add at least one credit")
    result = await uow.session.execute(
        insert(CreditAccount)
        .values(reference=reference, programme=programme, balance=credits)
        .on_conflict_do_update(
            index_elements=[col(CreditAccount.reference)],
            set_={"balance": CreditAccount.__table__.c.balance + credits},  # type: ignore[attr-defined]
        )
        .returning(col(CreditAccount.balance))
    )
    uow.session.add(CreditEntry(reference=reference, kind="top_up", delta=credits, note=note or None))
    return int(result.scalar_one())


async def create_credit_account(
    uow: UnitOfWork, *, reference: str, programme: str, credits: int, note: str = ""
) -> tuple[str, int]:
    """A new account whose reference is `reference` (a prefix) and an unguessable code; (reference, balance)."""
    code = new_credit_code(reference)
    return code, await top_up_credits(uow, reference=code, programme=programme, credits=credits, note=note)


async def credit_balance(uow: UnitOfWork, reference: str) -> tuple[int, int] | None:
    """(balance, sum of the ledger) — equal unless something bypassed the use cases."""
    account = await uow.session.get(CreditAccount, reference)
    if account is None:
        return None
    ledger = (
        await uow.session.execute(
            select(func.coalesce(func.sum(col(CreditEntry.delta)), 0)).where(col(CreditEntry.reference) == reference)
        )
    ).scalar_one()
    return account.balance, int(ledger)
