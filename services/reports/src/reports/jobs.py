"""Background jobs: the shared mail sender drains the mail outbox through real SMTP."""

from __future__ import annotations

from email.message import EmailMessage

from reports import mail
from reports.config import Settings
from reports.tables import OutgoingEmail
from shared.db import UnitOfWork
from shared.mail_outbox import register_send_emails
from shared.service import ServiceRuntime


def register(runtime: ServiceRuntime, settings: Settings) -> None:
    async def compose(uow: UnitOfWork, email: OutgoingEmail) -> EmailMessage:
        return await mail.build(uow, email, settings=settings)

    register_send_emails(runtime, OutgoingEmail, settings=settings, compose=compose)
