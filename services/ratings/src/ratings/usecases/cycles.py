"""The cycles and their raters, from invitations' events, and closing: when everyone answered, at the
deadline (the job), or early on request.

Everything that changes whether a cycle is complete (a submission, a decline, a withdrawal, an
early close, the deadline job) first takes `SELECT … FOR UPDATE` on the cycle row, so a cycle's
changes are serialised: the last one sees all earlier ones, and `CycleClosed` is emitted once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, func
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col, select

from ratings.domain import (
    CycleStatus,
    close_reason,
    early_close_reason,
    expected_answers,
    extension_applies,
    responses_per_group,
)
from ratings.tables import Cycle, Draft, Rater, Response
from ratings.usecases.common import PRODUCER, delete_draft, lock_cycle, move_draft
from shared.contracts.events import (
    CycleClosed,
    CycleCloseRequested,
    CycleDeadlineExtended,
    CycleOpened,
    RaterNominated,
    RaterWithdrawn,
)
from shared.contracts.vocabulary import CloseReason, RaterGroup
from shared.db import UnitOfWork
from shared.errors import Rejected

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CycleSummary:
    cycle_id: UUID
    status: CycleStatus
    deadline: datetime
    invited_per_group: dict[RaterGroup, int]
    responded_per_group: dict[RaterGroup, int]
    expected: int
    declined: int
    close_reason: CloseReason | None


@dataclass(frozen=True)
class Progress:
    expected: int
    answered: int  # submitted or declined
    declined: int


async def record_cycle_opened(uow: UnitOfWork, event: CycleOpened) -> None:
    """Create the cycle, or update it while it is open (never reopen one, never move a deadline earlier)."""
    invited = {group.value: count for group, count in event.invited_per_group.items()}
    statement = insert(Cycle).values(
        id=event.cycle_id,
        status=CycleStatus.OPEN.value,
        deadline=event.deadline,
        invited_per_group=invited,
        correlation_id=event.correlation_id or event.event_id,
        participant_name=event.participant_name,
    )
    statement = statement.on_conflict_do_update(
        index_elements=["id"],
        set_={
            # A repeated CycleOpened must not undo a deadline extension that came after it.
            "deadline": func.greatest(col(Cycle.deadline), statement.excluded.deadline),
            "invited_per_group": invited,
            "participant_name": event.participant_name,
        },
        where=col(Cycle.status) == CycleStatus.OPEN.value,
    )
    await uow.session.execute(statement)
    log.info("cycle recorded", extra={"cycle_id": str(event.cycle_id), "invited": sum(invited.values())})


async def record_rater_nominated(uow: UnitOfWork, event: RaterNominated) -> None:
    """Record a pseudonymous rater and the hash of their link token (before or after CycleOpened).

    A replacement takes the place of the rater it replaces: that one is withdrawn (unless they had
    already submitted, in which case the replacement is one more expected rater). The same rater
    nominated again with another hash has a new link (invitations re-keyed it, docs/adr/0012): the
    old link stops working and their unfinished answers follow them to the new one."""
    await lock_cycle(uow, event.cycle_id)
    clash = await uow.session.exec(
        select(Rater.id).where(col(Rater.link_token_sha256) == event.link_token_sha256, col(Rater.id) != event.rater_id)
    )
    if clash.first() is not None:
        raise Rejected("this link token hash already belongs to another rater")
    rater = await uow.session.get(Rater, event.rater_id)
    if rater is None:
        uow.session.add(
            Rater(
                id=event.rater_id,
                cycle_id=event.cycle_id,
                group=event.group.value,
                link_token_sha256=event.link_token_sha256,
                replaces_rater_id=event.replaces_rater_id,
            )
        )
    elif rater.cycle_id != event.cycle_id:
        raise Rejected("this rater id already belongs to another cycle")
    elif rater.submitted_at is None:
        # Also fills in a withdrawal that arrived before the nomination: its link stays revoked.
        if rater.link_token_sha256 is not None and rater.link_token_sha256 != event.link_token_sha256:
            await move_draft(uow, old=rater.link_token_sha256, new=event.link_token_sha256)
        rater.group = event.group.value
        rater.link_token_sha256 = event.link_token_sha256
        rater.replaces_rater_id = rater.replaces_rater_id or event.replaces_rater_id
        uow.session.add(rater)
    if event.replaces_rater_id is not None:
        replaced = await uow.session.get(Rater, event.replaces_rater_id)
        if replaced is not None and replaced.cycle_id == event.cycle_id:
            await _withdraw(uow, replaced, now=event.occurred_at)
    log.info("rater recorded", extra={"cycle_id": str(event.cycle_id), "rater_id": str(event.rater_id)})


async def record_rater_withdrawn(uow: UnitOfWork, event: RaterWithdrawn, *, now: datetime) -> None:
    """A rater no longer counts: their link stops working, and the cycle may now be complete."""
    cycle = await lock_cycle(uow, event.cycle_id)
    rater = await uow.session.get(Rater, event.rater_id)
    if rater is None:
        # The withdrawal overtook the nomination (another topic): remember it without a link.
        rater = Rater(id=event.rater_id, cycle_id=event.cycle_id, group=event.group.value, link_token_sha256=None)
        uow.session.add(rater)
    elif rater.cycle_id != event.cycle_id:
        raise Rejected("this rater id belongs to another cycle")
    await _withdraw(uow, rater, now=now)
    log.info("rater withdrawn", extra={"cycle_id": str(event.cycle_id), "rater_id": str(event.rater_id)})
    if cycle is not None:
        await close_if_complete(uow, cycle, now=now)


async def extend_deadline(uow: UnitOfWork, event: CycleDeadlineExtended) -> None:
    """Move an open cycle's deadline; an extension made after the old deadline, or for a closed cycle, is ignored."""
    cycle = await lock_cycle(uow, event.cycle_id)
    if cycle is None:
        raise Rejected("cycle not known to ratings (CycleOpened not received)")
    if not extension_applies(status=CycleStatus(cycle.status), deadline=cycle.deadline, extended_at=event.occurred_at):
        log.info("deadline extension ignored", extra={"cycle_id": str(cycle.id), "status": cycle.status})
        return
    cycle.deadline = event.deadline
    uow.session.add(cycle)
    log.info("deadline extended", extra={"cycle_id": str(cycle.id)})


async def close_on_request(uow: UnitOfWork, event: CycleCloseRequested, *, now: datetime) -> None:
    """The participant or an admin asked to close the cycle now (idempotent)."""
    if await close_cycle_early(uow, cycle_id=event.cycle_id, now=now) is None:
        raise Rejected("cycle not known to ratings (CycleOpened not received)")


async def close_next_due_cycle(uow: UnitOfWork, *, now: datetime) -> UUID | None:
    """Close one open cycle whose deadline has passed; other instances skip the one locked here."""
    statement = (
        select(Cycle)
        .where(col(Cycle.status) == CycleStatus.OPEN.value, col(Cycle.deadline) <= now)
        .order_by(col(Cycle.deadline))
        .limit(1)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    cycle = (await uow.session.exec(statement)).first()
    if cycle is None:
        return None
    progress = await _progress(uow, cycle)
    reason = close_reason(expected=progress.expected, answered=progress.answered, deadline=cycle.deadline, now=now)
    await close_locked_cycle(uow, cycle, reason=reason or CloseReason.DEADLINE_PASSED, now=now)
    return cycle.id


async def close_cycle_early(uow: UnitOfWork, *, cycle_id: UUID, now: datetime) -> CycleSummary | None:
    """Close a cycle before its deadline; closing a closed cycle changes nothing. None if unknown."""
    cycle = await lock_cycle(uow, cycle_id)
    if cycle is None:
        return None
    if cycle.status == CycleStatus.OPEN.value:
        progress = await _progress(uow, cycle)
        reason = early_close_reason(
            expected=progress.expected, answered=progress.answered, deadline=cycle.deadline, now=now
        )
        await close_locked_cycle(uow, cycle, reason=reason, now=now)
    return await _summary(uow, cycle)


async def cycle_summary(uow: UnitOfWork, *, cycle_id: UUID) -> CycleSummary | None:
    """Counts only: never anything about an individual rater or response."""
    cycle = await uow.session.get(Cycle, cycle_id)
    return None if cycle is None else await _summary(uow, cycle)


async def _withdraw(uow: UnitOfWork, rater: Rater, *, now: datetime) -> None:
    """A submitted response stays (it has already been sent on); otherwise the link is revoked."""
    if rater.submitted_at is not None or rater.withdrawn_at is not None:
        return
    rater.withdrawn_at = now
    uow.session.add(rater)
    if rater.link_token_sha256 is not None:
        await delete_draft(uow, rater.link_token_sha256)


def _invited(cycle: Cycle) -> dict[RaterGroup, int]:
    return {RaterGroup(group): count for group, count in cycle.invited_per_group.items()}


async def _progress(uow: UnitOfWork, cycle: Cycle) -> Progress:
    withdrawn = col(Rater.withdrawn_at).is_not(None)
    row = (
        await uow.session.exec(
            select(
                func.count().filter(col(Rater.replaces_rater_id).is_not(None)),
                func.count().filter(withdrawn, col(Rater.submitted_at).is_(None)),
                func.count().filter(col(Rater.submitted_at).is_not(None)),
                func.count().filter(col(Rater.declined_at).is_not(None), ~withdrawn, col(Rater.submitted_at).is_(None)),
            ).where(col(Rater.cycle_id) == cycle.id)
        )
    ).one()
    replacements, withdrawn_count, submitted, declined = (int(v) for v in row)
    expected = expected_answers(
        invited=sum(_invited(cycle).values()), replacements=replacements, withdrawn=withdrawn_count
    )
    return Progress(expected=expected, answered=submitted + declined, declined=declined)


async def close_if_complete(uow: UnitOfWork, cycle: Cycle, *, now: datetime) -> None:
    """Close the (locked) cycle if everyone expected has now submitted or declined."""
    if cycle.status != CycleStatus.OPEN.value:
        return
    progress = await _progress(uow, cycle)
    reason = close_reason(expected=progress.expected, answered=progress.answered, deadline=cycle.deadline, now=now)
    if reason is not None:
        await close_locked_cycle(uow, cycle, reason=reason, now=now)


async def _responded_per_group(uow: UnitOfWork, cycle_id: UUID) -> dict[RaterGroup, int]:
    rows = await uow.session.exec(
        select(Response.group, func.count()).where(col(Response.cycle_id) == cycle_id).group_by(col(Response.group))
    )
    return {RaterGroup(group): count for group, count in rows.all()}


async def close_locked_cycle(uow: UnitOfWork, cycle: Cycle, *, reason: CloseReason, now: datetime) -> None:
    responded = responses_per_group(
        invited_per_group=_invited(cycle), responded_per_group=await _responded_per_group(uow, cycle.id)
    )
    cycle.status = CycleStatus.CLOSED.value
    cycle.closed_at = now
    cycle.close_reason = reason.value
    uow.session.add(cycle)
    # Unsent answers of this cycle are never needed again: do not keep them.
    raters = select(Rater.link_token_sha256).where(col(Rater.cycle_id) == cycle.id)
    await uow.session.execute(delete(Draft).where(col(Draft.token_sha256).in_(raters)))
    uow.emit(
        CycleClosed(
            producer=PRODUCER,
            correlation_id=cycle.correlation_id,
            cycle_id=cycle.id,
            reason=reason,
            responses_per_group=responded,
        )
    )
    log.info(
        "cycle closed",
        extra={"cycle_id": str(cycle.id), "reason": reason.value, "responses": sum(responded.values())},
    )


async def _summary(uow: UnitOfWork, cycle: Cycle) -> CycleSummary:
    invited = _invited(cycle)
    progress = await _progress(uow, cycle)
    return CycleSummary(
        cycle_id=cycle.id,
        status=CycleStatus(cycle.status),
        deadline=cycle.deadline,
        invited_per_group=invited,
        responded_per_group=responses_per_group(
            invited_per_group=invited, responded_per_group=await _responded_per_group(uow, cycle.id)
        ),
        expected=progress.expected,
        declined=progress.declined,
        close_reason=CloseReason(cycle.close_reason) if cycle.close_reason else None,
    )
