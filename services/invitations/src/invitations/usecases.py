"""Use cases of the invitations service. Each runs inside the caller's unit of work; the caller
(a Kafka handler or an HTTP route) commits, so one use case is one transaction."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy import select
from sqlmodel import col

from invitations.config import Settings
from invitations.domain import (
    Nominee,
    check_funding,
    check_nominations,
    link_token,
    price_with_vat,
    token_sha256,
)
from invitations.tables import Cycle, OutgoingEmail, Rater
from shared.contracts.events import CycleOpened, CycleRequested, InvitationSent, RaterNominated
from shared.contracts.vocabulary import RaterGroup
from shared.db import UnitOfWork
from shared.errors import Rejected

log = logging.getLogger(__name__)


async def open_cycle(uow: UnitOfWork, request: CycleRequested, *, settings: Settings) -> bool:
    """Open a funded cycle, record its raters and queue their invitations. False if it already exists."""
    if await uow.session.get(Cycle, request.cycle_id) is not None:
        return False
    if request.deadline <= datetime.now(UTC) + timedelta(hours=1):
        raise Rejected("deadline must be at least one hour in the future")
    nominees = [Nominee(group=r.group, name=r.name, email=str(r.email)) for r in request.raters]
    person = request.participant
    check_nominations(participant_email=str(person.email), nominees=nominees)
    check_funding(method=request.funding.method, reference=request.funding.reference)

    cycle = Cycle(
        id=request.cycle_id,
        participant_id=person.participant_id,
        given_name=person.given_name,
        family_name=person.family_name,
        email=str(person.email),
        organisation=person.organisation,
        region=person.region,
        programme=request.programme,
        facilitator_id=request.facilitator_id,
        deadline=request.deadline,
        funding_method=request.funding.method.value,
        funding_reference=request.funding.reference,
        amount_due=price_with_vat(net=settings.price_net, vat_rate=settings.vat_rate),
        requested_by=request.producer,
    )
    uow.session.add(cycle)
    await uow.session.flush()
    self_rater = Nominee(group=RaterGroup.SELF, name=cycle.given_name, email=cycle.email)
    raters = [Rater(id=uuid4(), cycle_id=cycle.id, group=n.group.value, name=n.name, email=n.email)
              for n in [self_rater, *nominees]]
    uow.session.add_all(raters)
    await uow.session.flush()
    uow.session.add_all(
        OutgoingEmail(id=uuid4(), kind="invitation", cycle_id=cycle.id, rater_id=r.id) for r in raters
    )

    counts: dict[RaterGroup, int] = {}
    for rater in raters:
        counts[RaterGroup(rater.group)] = counts.get(RaterGroup(rater.group), 0) + 1
    correlation = request.correlation_id or request.event_id
    uow.emit(
        CycleOpened(
            producer="invitations",
            correlation_id=correlation,
            cycle_id=cycle.id,
            participant_id=cycle.participant_id,
            participant_name=f"{cycle.given_name} {cycle.family_name}",
            participant_email=cycle.email,
            organisation=cycle.organisation,
            region=cycle.region,
            programme=cycle.programme,
            facilitator_id=cycle.facilitator_id,
            deadline=cycle.deadline,
            invited_per_group=counts,
        )
    )
    secret = settings.link_secret.get_secret_value().encode()
    for rater in raters:
        uow.emit(
            RaterNominated(
                producer="invitations",
                correlation_id=correlation,
                cycle_id=cycle.id,
                rater_id=rater.id,
                group=RaterGroup(rater.group),
                link_token_sha256=token_sha256(link_token(secret=secret, rater_id=rater.id)),
            )
        )
    log.info("cycle opened", extra={"cycle_id": str(cycle.id), "raters": len(raters)})
    return True


async def claim_due_emails(uow: UnitOfWork, *, limit: int) -> list[OutgoingEmail]:
    """Lock a batch of unsent emails whose time has come (other instances skip them)."""
    rows = await uow.session.execute(
        select(OutgoingEmail)
        .where(col(OutgoingEmail.sent_at).is_(None), col(OutgoingEmail.next_attempt_at) <= datetime.now(UTC))
        .order_by(col(OutgoingEmail.next_attempt_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows.scalars().all())


async def mark_email_sent(uow: UnitOfWork, email: OutgoingEmail, *, correlation_id: UUID | None) -> None:
    """Record a sent email and emit its event in the same transaction."""
    email.sent_at = datetime.now(UTC)
    email.attempts += 1
    uow.session.add(email)
    if email.kind == "invitation" and email.rater_id is not None:
        rater = await uow.session.get(Rater, email.rater_id)
        assert rater is not None
        rater.status = "invited"
        uow.session.add(rater)
        uow.emit(
            InvitationSent(
                producer="invitations",
                correlation_id=correlation_id,
                cycle_id=email.cycle_id,
                rater_id=rater.id,
                group=RaterGroup(rater.group),
            )
        )


def mark_email_failed(uow: UnitOfWork, email: OutgoingEmail, *, error: str) -> None:
    email.attempts += 1
    email.last_error = error[:1000]
    backoff = min(2 ** email.attempts, 600)
    email.next_attempt_at = datetime.now(UTC) + timedelta(seconds=backoff)
    uow.session.add(email)
