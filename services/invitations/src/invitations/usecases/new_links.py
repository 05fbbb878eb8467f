"""A fresh personal link for someone whose link expired (docs/adr/0016): queued to the address this
service already holds for them, never to one a visitor types. The email mints the link when it is
sent, so it is valid for its whole lifetime from then."""

from __future__ import annotations

import logging
from uuid import UUID

from invitations import links
from invitations.domain import AWAITING_CONFIRMATION
from invitations.tables import Cycle
from invitations.usecases.common import ACTIVE_RATER, all_raters, queue_email
from shared.contracts.vocabulary import RaterGroup
from shared.db import UnitOfWork

log = logging.getLogger(__name__)

RENEWABLE = (links.PARTICIPANT, links.APPROVAL)


async def send_new_link(uow: UnitOfWork, *, cycle_id: UUID, purpose: str) -> bool:
    """Queue the participant's view link (a started 360) or the line manager's approval request (a list
    still awaiting approval) to whoever it belongs to. False, queueing nothing, when there is nothing
    to renew: the caller answers the same either way."""
    cycle = await uow.session.get(Cycle, cycle_id)
    queued = False
    if cycle is not None and purpose in RENEWABLE:
        queued = await _queue(uow, cycle, purpose)
    log.info("new link asked for", extra={"cycle_id": str(cycle_id), "purpose": purpose, "queued": queued})
    return queued


async def _queue(uow: UnitOfWork, cycle: Cycle, purpose: str) -> bool:
    if purpose == links.PARTICIPANT:
        wanted, kind, ready = RaterGroup.SELF, "participant_link", cycle.status != AWAITING_CONFIRMATION
    else:
        wanted, kind, ready = RaterGroup.LINE_MANAGER, "approval_request", cycle.status == "awaiting_approval"
    if not ready:
        return False
    holders = sorted(
        (r for r in await all_raters(uow, cycle.id) if r.group == wanted.value),
        key=lambda r: r.status not in ACTIVE_RATER,  # the one taking part first
    )
    if not holders:
        return False
    queue_email(uow, kind=kind, cycle_id=cycle.id, rater_id=holders[0].id)
    return True
