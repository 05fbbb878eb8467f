"""Reminders: one email per person whose reminder stage has come, listing all their pending 360s."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import col

from invitations.config import Settings
from invitations.domain import PENDING, due_reminder_stages, normalise_email
from invitations.tables import Cycle, Rater, Reminder
from invitations.usecases.common import queue_email
from shared.db import UnitOfWork

log = logging.getLogger(__name__)

REMINDER_LOCK_KEY = 0x72656D696E64  # "remind": one planner at a time across instances


async def plan_reminders(uow: UnitOfWork, *, settings: Settings, now: datetime | None = None) -> int:
    """Queue one reminder per person whose stage has come, covering all their pending 360s.
    The (rater, stage) primary key makes each stage go out once, across restarts and instances."""
    now = now or datetime.now(UTC)
    if not (await uow.session.execute(select(func.pg_try_advisory_xact_lock(REMINDER_LOCK_KEY)))).scalar():
        return 0
    horizon = now + timedelta(days=max(settings.reminder_days_before, default=0))
    pending = (
        await uow.session.execute(
            select(Rater, Cycle.deadline)  # type: ignore[call-overload]
            .join(Cycle, col(Cycle.id) == col(Rater.cycle_id))
            .where(
                col(Rater.status) == PENDING,
                col(Rater.invited_at).is_not(None),
                col(Cycle.status) == "open",
                col(Cycle.deadline) > now,
                col(Cycle.deadline) <= horizon,
            )
        )
    ).all()
    if not pending:
        return 0
    done = await uow.session.execute(
        select(col(Reminder.rater_id), col(Reminder.stage_days)).where(
            col(Reminder.rater_id).in_([rater.id for rater, _ in pending])
        )
    )
    already = {(rater_id, stage) for rater_id, stage in done.all()}
    due: dict[str, list[tuple[Rater, int]]] = defaultdict(list)
    for rater, deadline in pending:
        assert rater.invited_at is not None
        stages = due_reminder_stages(
            deadline=deadline,
            invited_at=rater.invited_at,
            now=now,
            stages_days=settings.reminder_days_before,
            min_gap=timedelta(hours=settings.reminder_min_gap_hours),
        )
        for stage in stages:
            if (rater.id, stage) not in already:
                due[normalise_email(rater.email)].append((rater, stage))
    for items in due.values():
        first = min((r for r, _ in items), key=lambda r: (r.cycle_id, r.id))
        email = queue_email(uow, kind="reminder", cycle_id=first.cycle_id, rater_id=first.id)
        await uow.session.flush()
        uow.session.add_all(Reminder(rater_id=r.id, stage_days=stage, email_id=email.id) for r, stage in items)
    if due:
        log.info("reminders planned", extra={"emails": len(due), "stages": sum(len(v) for v in due.values())})
    return len(due)


async def pending_for_person(uow: UnitOfWork, email: str) -> list[tuple[Rater, Cycle]]:
    """Every open 360 this person still has to answer (what a consolidated reminder lists)."""
    rows = await uow.session.execute(
        select(Rater, Cycle)  # type: ignore[call-overload]
        .join(Cycle, col(Cycle.id) == col(Rater.cycle_id))
        .where(
            func.lower(col(Rater.email)) == normalise_email(email),
            col(Rater.status) == PENDING,
            col(Cycle.status) == "open",
            col(Cycle.deadline) > datetime.now(UTC),
        )
        .order_by(col(Cycle.deadline))
    )
    return [(rater, cycle) for rater, cycle in rows.all()]
