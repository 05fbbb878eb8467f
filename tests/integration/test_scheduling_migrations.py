"""Scheduling's data migrations against a scratch database: 0007 moves the attention list onto
booking requests (and back), 0008 dates the management line."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import select, text

from scheduling.cli import MIGRATIONS
from scheduling.config import Settings
from scheduling.tables import (
    BookingRequest,
    Participant,
)
from scheduling.usecases import booking
from shared.db import UnitOfWork, create_engine, session_factory
from shared.migrations import downgrade, upgrade
from tests.config import StackSettings
from tests.integration.conftest import scratch_database
from tests.integration.scheduling_support import SECRET, line_changed

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


BOOKING_FACTS = "cycle_id, report_id, participant_id, organisation, region, chosen_facilitator_id, correlation_id"


def booking_facts(cycle_id: UUID) -> dict[str, Any]:
    return {
        "cycle_id": cycle_id,
        "report_id": uuid4(),
        "participant_id": f"P-{cycle_id.hex[:6]}",
        "organisation": "Participant Trust",
        "region": "London",
        "chosen_facilitator_id": None,
        "correlation_id": uuid4(),
    }


async def test_migration_0007_moves_the_attention_list_onto_booking_requests_and_back(
    settings: StackSettings,
) -> None:
    waiting, offered, orphan, scheduled_orphan, untouched = (uuid4() for _ in range(5))
    facts = {cycle: booking_facts(cycle) for cycle in (waiting, offered, orphan, scheduled_orphan, untouched)}
    async with scratch_database(settings, "scheduling_migration") as url:
        await asyncio.to_thread(upgrade, MIGRATIONS, url, "0006")
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                for cycle, offered_at in ((waiting, None), (offered, T0 + timedelta(hours=3)), (untouched, None)):
                    await connection.execute(
                        text(
                            f"INSERT INTO scheduling.booking_request ({BOOKING_FACTS}, created_at, offered_at) "
                            "VALUES (:cycle_id, :report_id, :participant_id, :organisation, :region, "
                            ":chosen_facilitator_id, :correlation_id, :created_at, :offered_at)"
                        ),
                        {**facts[cycle], "created_at": T0, "offered_at": offered_at},
                    )
                for cycle, attempts, scheduled_at, reason in (
                    (waiting, 3, None, "the participant's email is not known yet"),
                    (offered, 2, T0 + timedelta(hours=3), "no free slot"),
                    (orphan, 5, None, "no facilitator who speaks Welsh has a free slot"),
                    (scheduled_orphan, 1, T0 + timedelta(hours=1), "no free slot"),
                ):
                    await connection.execute(
                        text(
                            f"INSERT INTO scheduling.unscheduled_cycle ({BOOKING_FACTS}, reason, attempts, "
                            "first_seen_at, last_attempt_at, scheduled_at) VALUES (:cycle_id, :report_id, "
                            ":participant_id, :organisation, :region, :chosen_facilitator_id, :correlation_id, "
                            ":reason, :attempts, :first_seen_at, :last_attempt_at, :scheduled_at)"
                        ),
                        {
                            **facts[cycle],
                            "reason": reason,
                            "attempts": attempts,
                            "first_seen_at": T0,
                            "last_attempt_at": T0 + timedelta(hours=attempts),
                            "scheduled_at": scheduled_at,
                        },
                    )

            await asyncio.to_thread(upgrade, MIGRATIONS, url, "head")
            async with engine.connect() as connection:
                assert (
                    await connection.execute(text("SELECT to_regclass('scheduling.unscheduled_cycle')"))
                ).scalar_one() is None
            async with UnitOfWork(session_factory(engine)) as uow:
                requests = {r.cycle_id: r for r in (await uow.session.execute(select(BookingRequest))).scalars()}
                assert set(requests) == {waiting, offered, orphan, untouched}
                assert (
                    requests[waiting].unscheduled_reason,
                    requests[waiting].offer_attempts,
                    requests[waiting].last_offer_attempt_at,
                ) == ("the participant's email is not known yet", 3, T0 + timedelta(hours=3))
                assert (
                    requests[offered].unscheduled_reason,
                    requests[offered].offer_attempts,
                    requests[offered].offered_at,
                ) == (None, 2, T0 + timedelta(hours=3))
                assert (
                    requests[untouched].unscheduled_reason,
                    requests[untouched].offer_attempts,
                    requests[untouched].last_offer_attempt_at,
                ) == (None, 0, None)
                recreated = requests[orphan]
                assert {k: getattr(recreated, k) for k in facts[orphan]} == facts[orphan]
                assert (recreated.created_at, recreated.unscheduled_reason, recreated.offer_attempts) == (
                    T0,
                    "no facilitator who speaks Welsh has a free slot",
                    5,
                )
                # The retry job finds the moved cycles, longest since their last attempt first.
                claimed = await booking.claim_unscheduled(uow, attempted_before=datetime.now(UTC))
                assert claimed is not None and claimed.cycle_id == waiting

            await asyncio.to_thread(downgrade, MIGRATIONS, url, "0006")
            async with engine.connect() as connection:
                rows = (
                    await connection.execute(
                        text(
                            "SELECT cycle_id, reason, attempts, first_seen_at, last_attempt_at, scheduled_at "
                            "FROM scheduling.unscheduled_cycle ORDER BY attempts"
                        )
                    )
                ).all()
                columns = (
                    (
                        await connection.execute(
                            text(
                                "SELECT column_name FROM information_schema.columns "
                                "WHERE table_schema = 'scheduling' AND table_name = 'booking_request'"
                            )
                        )
                    )
                    .scalars()
                    .all()
                )
            assert [tuple(row) for row in rows] == [
                (offered, "", 2, T0, T0 + timedelta(hours=2), T0 + timedelta(hours=3)),
                (waiting, "the participant's email is not known yet", 3, T0, T0 + timedelta(hours=3), None),
                (orphan, "no facilitator who speaks Welsh has a free slot", 5, T0, T0 + timedelta(hours=5), None),
            ]
            assert not {"unscheduled_reason", "offer_attempts", "last_offer_attempt_at"} & set(columns)
            await asyncio.to_thread(upgrade, MIGRATIONS, url, "head")
        finally:
            await engine.dispose()


async def test_migration_0008_dates_the_management_line_and_keeps_a_line_that_came_first(
    settings: StackSettings,
) -> None:
    opened, early = uuid4(), uuid4()
    async with scratch_database(settings, "scheduling_migration") as url:
        await asyncio.to_thread(upgrade, MIGRATIONS, url, "0007")
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    text(
                        "INSERT INTO scheduling.participant (cycle_id, participant_id, name, organisation, region, "
                        "management_line) VALUES (:id, 'P-1', 'Amara Okafor', 'Participant Trust', 'London', "
                        "ARRAY['jo@example.nhs.uk'])"
                    ),
                    {"id": opened},
                )
            await asyncio.to_thread(upgrade, MIGRATIONS, url, "head")
            async with UnitOfWork(session_factory(engine)) as uow:
                kept = await uow.session.get(Participant, opened)
                assert kept is not None
                assert (kept.management_line, kept.management_line_as_of) == (["jo@example.nhs.uk"], None)
                # A line changed after opening is newer than any line recorded before the migration.
                rules = Settings(link_secret=SECRET, database_url=url)
                for changed in (
                    line_changed(opened, "jo@example.nhs.uk", "kim@example.nhs.uk"),
                    line_changed(early, "kim@example.nhs.uk"),
                ):
                    assert await booking.change_management_line(uow, changed, settings=rules, now=datetime.now(UTC))
                await uow.commit()

            await asyncio.to_thread(downgrade, MIGRATIONS, url, "0007")
            async with engine.connect() as connection:
                rows = (
                    await connection.execute(text("SELECT cycle_id, management_line FROM scheduling.participant"))
                ).all()
            assert [tuple(row) for row in rows] == [(opened, ["jo@example.nhs.uk", "kim@example.nhs.uk"])], (
                "the line-only row goes; the schema before 0008 cannot hold it"
            )
            await asyncio.to_thread(upgrade, MIGRATIONS, url, "head")
        finally:
            await engine.dispose()
