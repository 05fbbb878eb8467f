"""The journal: record an observation (or keep it as a draft), list and filter them, read, edit and
delete one. Every query is scoped to the signed-in account: another account's entry is not found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete
from sqlmodel import col, select

from observations.domain import Entry, FieldError, Filter, Shown, Status, Whose
from observations.forms import Parsed
from observations.tables import Observation
from observations.usecases.accounts import AccountView, account
from shared.contracts.vocabulary import Dimension
from shared.db import UnitOfWork
from shared.questionnaire import Level


@dataclass(frozen=True)
class Summary:
    """An entry as the journal lists or shows it."""

    id: UUID
    status: Status
    entry: Entry
    updated_at: datetime


def _entry(row: Observation) -> Entry:
    return Entry(
        observed_on=row.observed_on,
        context=row.context,
        whose=Whose(row.whose) if row.whose else None,
        shown=tuple(Shown(Dimension(s["dimension"]), Level(s["level"])) for s in row.shown),
        what_happened=row.what_happened,
        impact=row.impact,
    )


def _summary(row: Observation) -> Summary:
    return Summary(row.id, Status(row.status), _entry(row), row.updated_at)


@dataclass(frozen=True)
class Journal:
    recorded: tuple[Summary, ...]
    drafts: tuple[Summary, ...]


async def journal(uow: UnitOfWork, *, account_id: UUID, only: Filter) -> tuple[AccountView, Journal] | None:
    """The account, its recorded observations that pass the filter (newest first) and all its
    drafts; None if the account is gone."""
    found = await account(uow, account_id)
    if found is None:
        return None
    mine = col(Observation.account_id) == account_id
    recorded = select(Observation).where(mine, col(Observation.status) == Status.RECORDED.value)
    if only.dimension is not None:
        recorded = recorded.where(col(Observation.shown).contains([{"dimension": only.dimension.value}]))
    if only.date_from is not None:
        recorded = recorded.where(col(Observation.observed_on) >= only.date_from)
    if only.date_to is not None:
        recorded = recorded.where(col(Observation.observed_on) <= only.date_to)
    recorded = recorded.order_by(col(Observation.observed_on).desc(), col(Observation.created_at).desc())
    drafts = select(Observation).where(mine, col(Observation.status) == Status.DRAFT.value)
    drafts = drafts.order_by(col(Observation.updated_at).desc())
    return found, Journal(
        recorded=tuple(_summary(row) for row in (await uow.session.exec(recorded)).all()),
        drafts=tuple(_summary(row) for row in (await uow.session.exec(drafts)).all()),
    )


async def _mine(uow: UnitOfWork, *, account_id: UUID, observation_id: UUID, lock: bool = False) -> Observation | None:
    statement = select(Observation).where(
        col(Observation.id) == observation_id, col(Observation.account_id) == account_id
    )
    if lock:
        statement = statement.with_for_update()
    return (await uow.session.exec(statement)).first()


async def observation(uow: UnitOfWork, *, account_id: UUID, observation_id: UUID) -> Summary | None:
    row = await _mine(uow, account_id=account_id, observation_id=observation_id)
    return _summary(row) if row else None


@dataclass(frozen=True)
class Saved:
    """The outcome of saving: not found (another account's or deleted), refused with the form's
    errors, or stored (as a draft or recorded)."""

    found: bool
    id: UUID | None = None
    status: Status | None = None
    errors: tuple[FieldError, ...] = ()
    may_keep_draft: bool = True  # refused: whether the form may still offer "Save as draft"


async def save_observation(
    uow: UnitOfWork, *, account_id: UUID, observation_id: UUID | None, parsed: Parsed, draft: bool, now: datetime
) -> Saved:
    """Record a complete observation, or keep what was written as a draft (a draft stays a draft
    until it is recorded; a recorded entry is never turned back into a draft)."""
    row = None
    if observation_id is not None:
        row = await _mine(uow, account_id=account_id, observation_id=observation_id, lock=True)
        if row is None:
            return Saved(found=False)
    is_draft = row is None or row.status == Status.DRAFT.value
    keep_as_draft = draft and is_draft
    if parsed.unstorable or (not keep_as_draft and parsed.errors):
        return Saved(found=True, id=observation_id, errors=parsed.errors, may_keep_draft=is_draft)
    entry = parsed.entry
    if row is None:
        row = Observation(account_id=account_id, status=Status.DRAFT.value, created_at=now)
    row.status = (Status.DRAFT if keep_as_draft else Status.RECORDED).value
    row.observed_on = entry.observed_on
    row.context = entry.context
    row.whose = entry.whose.value if entry.whose else None
    row.shown = [{"dimension": s.dimension.value, "level": s.level.value} for s in entry.shown]
    row.what_happened = entry.what_happened
    row.impact = entry.impact
    row.updated_at = now
    uow.session.add(row)
    return Saved(found=True, id=row.id, status=Status(row.status))


async def delete_observation(uow: UnitOfWork, *, account_id: UUID, observation_id: UUID) -> bool:
    """Delete one of the account's entries; False if there was none."""
    result = await uow.session.execute(
        delete(Observation)
        .where(col(Observation.id) == observation_id, col(Observation.account_id) == account_id)
        .returning(col(Observation.id))
    )
    return result.first() is not None
