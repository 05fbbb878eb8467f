"""Importing a cohort: each row of the file (parsed by forms.row_to_request) opens a 360 in its own
transaction, through the same use case as the other ways in; a refused row is reported by its line
and the others still import."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from invitations.config import Settings
from invitations.usecases.intake import open_cycle
from shared.contracts.events import CycleRequested
from shared.db import UnitOfWork
from shared.errors import Rejected


@dataclass
class ImportResult:
    imported: int = 0
    already_present: int = 0
    bad_rows: list[tuple[int, str]] = field(default_factory=list)


async def import_rows(
    sessions: async_sessionmaker[AsyncSession],
    requests: Sequence[tuple[int, CycleRequested]],
    *,
    settings: Settings,
    bad_rows: Sequence[tuple[int, str]] = (),
    advance: Callable[[], None] = lambda: None,
) -> ImportResult:
    """Open a 360 for every row's request (by line number), one transaction each; the rows already
    found bad are reported with the refused ones, all sorted by line."""
    result = ImportResult(bad_rows=list(bad_rows))
    for line, request in requests:
        try:
            async with UnitOfWork(sessions) as uow:
                created = await open_cycle(uow, request, settings=settings)
                await uow.commit()
        except Rejected as problem:
            result.bad_rows.append((line, str(problem)))
        except IntegrityError:
            result.already_present += 1
        else:
            if created:
                result.imported += 1
            else:
                result.already_present += 1
        advance()
    result.bad_rows.sort()
    return result
