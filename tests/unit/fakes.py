"""Fakes of the unit of work for unit tests of code that only adds rows and commits (the mail
sender): what was added, how often it committed. Integration tests use the real one."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, nullcontext
from typing import cast

from shared.db import UnitOfWork


class FakeSession:
    def __init__(self) -> None:
        self.added: list[object] = []

    def add(self, row: object) -> None:
        self.added.append(row)

    def begin_nested(self) -> AbstractAsyncContextManager[None]:
        """The sender runs the service's steps in a savepoint (the integration tests roll one back)."""
        return nullcontext()


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.session = FakeSession()
        self.commits = 0

    async def commit(self) -> None:
        self.commits += 1

    @property
    def typed(self) -> UnitOfWork:
        return cast(UnitOfWork, self)
