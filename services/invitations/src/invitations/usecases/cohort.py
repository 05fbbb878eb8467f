"""Importing a cohort: each good row of the file opens a 360 in its own transaction, through the same
use case as the other ways in; a bad row is reported by its line and the others still import."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from invitations.config import Settings
from invitations.forms import BadRow, CohortDefaults, row_to_request
from invitations.usecases.intake import open_cycle
from shared.db import UnitOfWork
from shared.errors import Rejected


@dataclass
class ImportResult:
    imported: int = 0
    already_present: int = 0
    bad_rows: list[tuple[int, str]] = field(default_factory=list)


async def import_rows(
    sessions: async_sessionmaker[AsyncSession],
    rows: Sequence[tuple[int, dict[str, str]]],
    *,
    defaults: CohortDefaults,
    settings: Settings,
    unreadable: Sequence[tuple[int, str]] = (),
    advance: Callable[[], None] = lambda: None,
) -> ImportResult:
    """Open a 360 for every row (by line number), one transaction each; `unreadable` lines are
    reported with the bad rows, all sorted by line."""
    result = ImportResult(bad_rows=list(unreadable))
    for line, row in rows:
        try:
            request = row_to_request(row, defaults=defaults)
            async with UnitOfWork(sessions) as uow:
                created = await open_cycle(uow, request, settings=settings)
                await uow.commit()
        except (BadRow, Rejected) as problem:
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
