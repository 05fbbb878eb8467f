"""What the pages and the JSON API read: the participant's dashboard (counts per group, never who
responded), the list a line manager approves, a rater to replace, a cycle's progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from sqlalchemy import func, select
from sqlmodel import col

from invitations import emails
from invitations.config import Settings
from invitations.domain import GROUP_TITLES, NEEDS_REPLACEMENT, mailbox_key, many_asked
from invitations.tables import Cycle, Rater
from invitations.usecases.common import ACTIVE_CYCLE, ACTIVE_RATER, all_raters, get_cycle
from invitations.usecases.intake import keep_link_key
from shared.contracts.vocabulary import NOMINATED_GROUPS, RaterGroup
from shared.db import UnitOfWork

APPROVAL_GROUPS = (RaterGroup.LINE_MANAGER, RaterGroup.PEER, RaterGroup.DIRECT_REPORT, RaterGroup.OTHER)


@dataclass
class GroupProgress:
    group: RaterGroup
    asked: int = 0
    responded: int = 0


@dataclass
class RaterNeed:
    rater_id: UUID
    name: str
    group: RaterGroup
    status: str
    note: str | None


@dataclass
class ParticipantView:
    cycle: Cycle
    progress: list[GroupProgress]
    needs_replacement: list[RaterNeed] = field(default_factory=list)
    many_asked: bool = False  # some raters are asked a lot elsewhere (never who, nor how many)
    nominated: int = 0
    self_done: bool = False
    self_link: str = ""  # the participant's own rating link, until they have rated


async def participant_view(uow: UnitOfWork, cycle_id: UUID, *, settings: Settings) -> ParticipantView:
    """Counts per group only: the view never says which person has responded."""
    cycle = await get_cycle(uow, cycle_id, lock=False)
    raters = await all_raters(uow, cycle_id)
    progress = {g: GroupProgress(g) for g in NOMINATED_GROUPS}
    view = ParticipantView(cycle=cycle, progress=[])
    for rater in raters:
        group = RaterGroup(rater.group)
        if group is RaterGroup.SELF:
            view.self_done = rater.status == "submitted"
            if not view.self_done:
                keep_link_key(uow, cycle, rater, settings=settings)
                view.self_link = emails.rater_link(settings, rater)
            continue
        if rater.status in ("replaced", "bounced"):
            pass
        else:
            progress[group].asked += 1
            view.nominated += 1
            progress[group].responded += rater.status == "submitted"
        if rater.status in NEEDS_REPLACEMENT:
            view.needs_replacement.append(RaterNeed(rater.id, rater.name, group, rater.status, rater.status_note))
    view.progress = [p for p in progress.values() if p.asked]
    active = [r for r in raters if r.status in ACTIVE_RATER and r.group != RaterGroup.SELF]
    elsewhere = await open_requests(uow, [r.email for r in active], excluding_cycle=cycle_id)
    view.many_asked = many_asked(
        [elsewhere.get(mailbox_key(r.email), 0) for r in active],
        threshold=settings.fatigue_threshold,
        min_people=settings.fatigue_min_people,
    )
    return view


async def open_requests(uow: UnitOfWork, emails: list[str], *, excluding_cycle: UUID) -> dict[str, int]:
    """How many other open 360s each person has been asked to rate (and not yet answered), by
    mailbox (domain.mailbox_key: case and any +tag ignored)."""
    addresses = sorted({mailbox_key(e) for e in emails})
    if not addresses:
        return {}
    # mailbox_key in SQL (all but its NFKC step): lower case, the +tag dropped
    mailbox = func.regexp_replace(func.lower(func.trim(col(Rater.email))), r"\+[^@]*@", "@")
    rows = await uow.session.execute(
        select(mailbox, func.count())
        .join(Cycle, col(Cycle.id) == col(Rater.cycle_id))
        .where(
            mailbox.in_(addresses),
            col(Rater.cycle_id) != excluding_cycle,
            col(Rater.status).in_(ACTIVE_RATER),
            col(Rater.group) != RaterGroup.SELF.value,
            col(Cycle.status).in_(ACTIVE_CYCLE),
        )
        .group_by(mailbox)
    )
    return {email: int(count) for email, count in rows.all()}


@dataclass
class ApprovalView:
    cycle: Cycle
    groups: list[tuple[str, list[Rater]]] = field(default_factory=list)  # (title, raters), groups with anyone

    @property
    def decided(self) -> bool:
        return self.cycle.status != "awaiting_approval"


async def approval_view(uow: UnitOfWork, cycle_id: UUID) -> ApprovalView | None:
    """The nomination list the line manager is asked to approve, by group (None: no such cycle)."""
    cycle = await uow.session.get(Cycle, cycle_id)
    if cycle is None:
        return None
    raters = await all_raters(uow, cycle_id)
    groups = [(GROUP_TITLES[g], [r for r in raters if r.group == g.value]) for g in APPROVAL_GROUPS]
    return ApprovalView(cycle=cycle, groups=[(t, rs) for t, rs in groups if rs])


async def rater_to_replace(uow: UnitOfWork, *, cycle_id: UUID, rater_id: UUID) -> Rater | None:
    """A rater of this cycle who declined or bounced, whom the participant may replace."""
    rater = await uow.session.get(Rater, rater_id)
    if rater is None or rater.cycle_id != cycle_id or rater.status not in NEEDS_REPLACEMENT:
        return None
    return rater


async def cycle_status(uow: UnitOfWork, cycle_id: UUID) -> str | None:
    cycle = await uow.session.get(Cycle, cycle_id)
    return cycle.status if cycle else None


async def cycle_progress(uow: UnitOfWork, cycle_id: UUID) -> tuple[str, dict[str, int]] | None:
    """A cycle's status and raters invited per group (replaced ones not counted); None: no such cycle."""
    cycle = await uow.session.get(Cycle, cycle_id)
    if cycle is None:
        return None
    rows = await uow.session.execute(
        select(col(Rater.group), func.count())
        .where(col(Rater.cycle_id) == cycle_id, col(Rater.status) != "replaced")
        .group_by(col(Rater.group))
    )
    return cycle.status, dict(rows.tuples().all())
