"""Background jobs: the shared mail sender drains the mail outbox (sign-in links) through SMTP;
old sign-in links and rate-limit counts no longer needed are forgotten."""

from datetime import UTC, datetime
from email.message import EmailMessage

from observations.config import Settings
from observations.emails import SUBJECTS
from observations.tables import OutgoingEmail
from observations.usecases import forget_old_links
from observations.usecases.mail import compose_email
from shared.db import UnitOfWork
from shared.mail_outbox import NotNeeded
from shared.mail_sender import register_send_emails
from shared.service import FORGET_COUNTS_SECONDS, ServiceRuntime, forget_expired_counts, stop_if_cancelled


def register(runtime: ServiceRuntime, settings: Settings) -> None:
    async def compose(uow: UnitOfWork, email: OutgoingEmail) -> EmailMessage | NotNeeded:
        return await compose_email(uow, email, settings=settings)

    register_send_emails(runtime, OutgoingEmail, settings=settings, compose=compose, kinds=SUBJECTS)

    @runtime.every(settings.purge_links_seconds, name="forget-sign-in-links")
    async def forget_links(runtime: ServiceRuntime) -> None:
        """Delete sign-in links long past their expiry."""
        async with runtime.uow() as uow:
            await forget_old_links(uow, now=datetime.now(UTC))
            await uow.commit()
        stop_if_cancelled()

    runtime.every(FORGET_COUNTS_SECONDS, name="forget-expired-counts")(forget_expired_counts)
