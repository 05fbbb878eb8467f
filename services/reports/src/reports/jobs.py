"""Background jobs: the shared mail sender drains the mail outbox through real SMTP; rate-limit
counts no longer needed are forgotten."""

from __future__ import annotations

from email.message import EmailMessage

from reports import emails, usecases
from reports.config import Settings
from reports.tables import OutgoingEmail
from shared.db import UnitOfWork
from shared.mail_sender import register_send_emails
from shared.service import FORGET_COUNTS_SECONDS, ServiceRuntime, forget_expired_counts


def register(runtime: ServiceRuntime, settings: Settings) -> None:
    async def compose(uow: UnitOfWork, email: OutgoingEmail) -> EmailMessage:
        return emails.compose(
            email_id=email.id,
            kind=email.kind,
            sender=settings.mail_from,
            to=email.recipient,
            context=await usecases.email_context(uow, email, settings=settings),
        )

    register_send_emails(runtime, OutgoingEmail, settings=settings, compose=compose, kinds=emails.SUBJECTS)
    runtime.every(FORGET_COUNTS_SECONDS, name="forget-expired-counts")(forget_expired_counts)
