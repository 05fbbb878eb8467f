"""Background jobs: the shared mail sender drains the mail outbox through real SMTP (an invitation
sent invites its rater; one refused for good means the rater needs replacing); the reminder
planner queues reminders as deadlines approach; public requests not confirmed in time are forgotten,
and so are rate-limit counts no longer needed."""

from email.message import EmailMessage

from invitations.config import Settings
from invitations.emails import SUBJECTS
from invitations.tables import OutgoingEmail
from invitations.usecases.intake import purge_unconfirmed
from invitations.usecases.mail import compose_email, record_bounce, record_email_sent
from invitations.usecases.reminders import plan_reminders as plan_due_reminders
from shared.db import UnitOfWork
from shared.mail_outbox import NotNeeded
from shared.mail_sender import register_send_emails
from shared.service import FORGET_COUNTS_SECONDS, ServiceRuntime, forget_expired_counts, stop_if_cancelled


def register(runtime: ServiceRuntime, settings: Settings) -> None:
    async def compose(uow: UnitOfWork, email: OutgoingEmail) -> EmailMessage | NotNeeded:
        return await compose_email(uow, email, settings=settings)

    register_send_emails(
        runtime,
        OutgoingEmail,
        settings=settings,
        compose=compose,
        after_sent=record_email_sent,
        on_refused=record_bounce,
        kinds=SUBJECTS,
    )

    @runtime.every(settings.reminder_poll_seconds, name="plan-reminders")
    async def plan_reminders(runtime: ServiceRuntime) -> None:
        """Queue the reminders whose time has come (state in PostgreSQL, so restarts resume)."""
        async with runtime.uow() as uow:
            await plan_due_reminders(uow, settings=settings)
            await uow.commit()
        stop_if_cancelled()

    @runtime.every(settings.purge_poll_seconds, name="purge-unconfirmed")
    async def forget_unconfirmed(runtime: ServiceRuntime) -> None:
        """Forget public requests their participant did not confirm in time."""
        async with runtime.uow() as uow:
            await purge_unconfirmed(uow, settings=settings)
            await uow.commit()
        stop_if_cancelled()

    runtime.every(FORGET_COUNTS_SECONDS, name="forget-expired-counts")(forget_expired_counts)
