"""Sending the mail outbox (`shared.mail_outbox` holds its rows): the `send-emails` job every service
that sends email runs.

A use case queues an email as a row of its service's own outbox table, in its own transaction, so
a rolled-back change sends nothing. The service's `send-emails` job sends the due rows through
SMTP, one transaction per email, holding the row's lock while it talks to the server, so two
instances never send the same row and a crash resends at most the email in flight (its stable
Message-ID lets mail clients drop that duplicate, and the events that follow a sent email take their
ids from the row, so consumers drop a repeat: `follow_up_event_id`). Temporary failures are retried
with exponential backoff; a permanent refusal (5xx) is not.

No row can block the queue: one that cannot be composed or serialised (anything but an outage of
the database or the network) is given up as unsendable with the error's type as its reason, and the
round goes on. What a service does after a delivery or a refusal runs in a savepoint: if it fails,
the delivery is still recorded, so an email that left is never sent again for that reason.

What an email says stays with its service: the job is given a `compose` callable that turns a row
into a message (or says it is no longer needed), and optional callbacks for what follows a delivery
or a permanent refusal (invitations: the rater was invited, or needs replacing).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from enum import StrEnum
from typing import Generic, TypeVar

from opentelemetry import trace
from opentelemetry.trace import StatusCode
from sqlalchemy import exc as sa_exc
from sqlalchemy import func
from sqlalchemy import inspect as sa_inspect
from sqlmodel import col, select

from shared import mail
from shared.db import UnitOfWork, UnitOfWorkFactory
from shared.mail_outbox import (
    E,
    NotNeeded,
    OutgoingEmailBase,
    claim_due_email,
    mark_email_failed,
    mark_email_not_needed,
    mark_email_refused,
    mark_email_sent,
    mark_email_unsendable,
)
from shared.metrics import ServiceMetrics
from shared.service import ServiceRuntime, stop_if_cancelled
from shared.settings import MailSettings

log = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)
T = TypeVar("T")

# SQLSTATE classes that pass: connection, transaction rollback (serialisation, deadlock),
# insufficient resources, operator intervention (shutdown), system error
_PASSING_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")


def _now() -> datetime:
    return datetime.now(UTC)


class Outcome(StrEnum):
    SENT = "sent"
    NOT_NEEDED = "not_needed"
    RETRY = "retry"
    GAVE_UP = "gave_up"
    REFUSED = "refused"
    UNSENDABLE = "unsendable"


def is_outage(error: BaseException) -> bool:
    """True for a failure that passes (database or network down, a deadlock): try the email again
    later. Anything else raised while composing says the row itself cannot be sent."""
    if isinstance(
        error,
        (
            OSError,
            TimeoutError,
            sa_exc.OperationalError,
            sa_exc.InterfaceError,
            sa_exc.DisconnectionError,
            sa_exc.TimeoutError,
        ),
    ):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        sqlstate = str(getattr(error.orig, "sqlstate", None) or "")
        return error.connection_invalidated or sqlstate[:2] in _PASSING_SQLSTATE_CLASSES or sqlstate == "55P03"
    return False


Compose = Callable[[UnitOfWork, E], Awaitable[EmailMessage | NotNeeded]]
AfterSent = Callable[[UnitOfWork, E], Awaitable[None]]
OnRefused = Callable[[UnitOfWork, E, int], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class MailSender(Generic[E]):
    """Drains one service's mail outbox through SMTP: compose, send, record the outcome, commit."""

    table: type[E]
    settings: MailSettings
    compose: Compose[E]
    after_sent: AfterSent[E] | None = None
    on_refused: OnRefused[E] | None = None
    metrics: ServiceMetrics | None = None

    async def sample_backlog(self, uow: UnitOfWorkFactory) -> None:
        """Set the backlog gauges: emails waiting, and how long the oldest has waited."""
        if self.metrics is None:
            return
        waiting = (col(self.table.sent_at).is_(None), col(self.table.gave_up_at).is_(None))
        async with uow() as work:
            count, oldest = (
                await work.session.execute(select(func.count(), func.min(col(self.table.created_at))).where(*waiting))
            ).one()
        self.metrics.mail_pending.set(count)
        self.metrics.mail_oldest_pending_seconds.set((_now() - oldest).total_seconds() if oldest else 0.0)

    async def drain(self, uow: UnitOfWorkFactory) -> list[Outcome]:
        """Send up to `mail_batch_size` due emails, one transaction each; a temporary failure ends
        the round (the server may be down), the next round carries on. An unsendable row does not
        end it: it is given up and the next email goes out."""
        outcomes: list[Outcome] = []
        for _ in range(self.settings.mail_batch_size):
            stop_if_cancelled()
            async with uow() as work:
                email = await claim_due_email(work, self.table)
                if email is None:
                    break
                kind = email.kind
                outcomes.append(await self.send(work, email))
            self._count(kind, outcomes[-1])
            if outcomes[-1] in (Outcome.RETRY, Outcome.GAVE_UP):
                break
        stop_if_cancelled()
        return outcomes

    def _count(self, kind: str, outcome: Outcome) -> None:
        if self.metrics is None:
            return
        for each in Outcome:  # every outcome of a kind is exposed (at 0) from its first email: alerts see it
            self.metrics.emails.labels(kind=kind, outcome=each.value)
        self.metrics.emails.labels(kind=kind, outcome=outcome.value).inc()

    async def send(self, uow: UnitOfWork, email: E) -> Outcome:
        """Compose, send and record one claimed email in the caller's transaction, then commit."""
        with _tracer.start_as_current_span(
            "send email", attributes=email.trace_attributes(), record_exception=False
        ) as span:
            ids: dict[str, object] = {"email_id": str(email.id), "kind": email.kind}
            compose = self.compose
            try:
                message = await _in_savepoint(uow, email, lambda: compose(uow, email))
            except Exception as error:
                span.set_status(StatusCode.ERROR)
                return await self._not_composed(uow, email, error, ids)
            if isinstance(message, NotNeeded):
                mark_email_not_needed(uow, email, why=message.reason)
                await uow.commit()
                log.info("email not needed", extra=ids)
                return Outcome.NOT_NEEDED
            try:
                await mail.send(message, self.settings)
            except Exception as error:
                span.set_status(StatusCode.ERROR)
                return await self._failed(uow, email, error, ids)
            mark_email_sent(uow, email)
            after_sent = self.after_sent
            if after_sent is not None:
                await self._follow_up(uow, email, lambda: after_sent(uow, email), ids, step_name="after sent")
            await uow.commit()
            log.info("email sent", extra=ids)
            return Outcome.SENT

    async def _not_composed(self, uow: UnitOfWork, email: E, error: Exception, ids: dict[str, object]) -> Outcome:
        stop_if_cancelled()  # a client may have turned the service's stop into its own error
        reason = f"could not compose: {type(error).__name__}"
        if is_outage(error):
            # retried behind the other due emails, and never given up for it (if the database is
            # down, this commit fails too and the row waits untouched)
            mark_email_failed(uow, email, error=reason, max_attempts=None)
            await uow.commit()
            log.warning("email could not be composed; will retry", extra={**ids, "error": reason})
            return Outcome.RETRY
        return await self._unsendable(uow, email, reason, ids)

    async def _unsendable(self, uow: UnitOfWork, email: E, reason: str, ids: dict[str, object]) -> Outcome:
        mark_email_unsendable(uow, email, reason=reason)
        await uow.commit()
        log.error("email cannot be sent; given up", extra={**ids, "reason": reason})
        return Outcome.UNSENDABLE

    async def _follow_up(
        self, uow: UnitOfWork, email: E, step: Callable[[], Awaitable[None]], ids: dict[str, object], *, step_name: str
    ) -> None:
        """Run the service's callback after a delivery or a refusal. If it fails for any reason but
        an outage, its writes are undone and the outcome is still recorded: failing the whole
        transaction would mail the person again on every round."""
        try:
            await _in_savepoint(uow, email, step)
        except Exception as error:
            stop_if_cancelled()
            if is_outage(error):
                raise
            email.last_error = f"{step_name}: {type(error).__name__}"
            uow.session.add(email)
            log.error("what follows an email failed", extra={**ids, "step": step_name, "error": type(error).__name__})

    async def _failed(self, uow: UnitOfWork, email: E, error: Exception, ids: dict[str, object]) -> Outcome:
        stop_if_cancelled()
        code = mail.permanent_failure_code(error)
        if code is not None:
            mark_email_refused(uow, email, code=code)
            on_refused = self.on_refused
            if on_refused is not None:
                await self._follow_up(uow, email, lambda: on_refused(uow, email, code), ids, step_name="on refused")
            await uow.commit()
            log.warning("email refused for good", extra={**ids, "code": code})
            return Outcome.REFUSED
        if not mail.may_pass(error):
            return await self._unsendable(uow, email, f"could not send: {type(error).__name__}", ids)
        # the server's reply text may echo the address: store and log only the type and code
        summary = mail.failure_summary(error)
        gave_up = mark_email_failed(uow, email, error=summary, max_attempts=self.settings.mail_max_attempts)
        await uow.commit()
        details = {**ids, "attempts": email.attempts, "error": summary}
        if gave_up:
            log.error("email send failed; giving up", extra=details)
            return Outcome.GAVE_UP
        log.warning("email send failed; will retry", extra=details)
        return Outcome.RETRY


async def _in_savepoint(uow: UnitOfWork, email: OutgoingEmailBase, step: Callable[[], Awaitable[T]]) -> T:
    """Run a service's step in a savepoint: if it fails, only its own writes are undone, and the
    claimed row (still locked) can be marked in the same transaction."""
    try:
        async with uow.session.begin_nested():
            return await step()
    except Exception:
        state = sa_inspect(email, raiseerr=False)
        if state is not None and state.expired_attributes:  # the step had changed the row itself
            await uow.session.refresh(email)
        raise


def register_send_emails(
    runtime: ServiceRuntime,
    table: type[E],
    *,
    settings: MailSettings,
    compose: Compose[E],
    after_sent: AfterSent[E] | None = None,
    on_refused: OnRefused[E] | None = None,
    kinds: Iterable[str] = (),
) -> MailSender[E]:
    """Run the `send-emails` job of a service every `mail_poll_seconds`; `kinds` (the service's
    email kinds) are counted from 0 so that alerts see the first refused one."""
    runtime.metrics.register_email_kinds(kinds, (each.value for each in Outcome))
    sender = MailSender(
        table=table,
        settings=settings,
        compose=compose,
        after_sent=after_sent,
        on_refused=on_refused,
        metrics=runtime.metrics,
    )
    runtime.sample_at_scrape(lambda: sender.sample_backlog(runtime.uow))

    @runtime.every(settings.mail_poll_seconds, name="send-emails")
    async def send_emails(runtime: ServiceRuntime) -> None:
        await sender.drain(runtime.uow)

    return sender
