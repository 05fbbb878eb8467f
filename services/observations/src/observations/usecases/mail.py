"""What a queued email says, looked up when the send-emails job sends it: the one-time link, if
it can still be used (a link used, expired or forgotten by then is not sent)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

from observations import emails, links, pages
from observations.config import Settings
from observations.domain import LinkState, link_state
from observations.tables import OutgoingEmail, SignInLink
from shared.db import UnitOfWork
from shared.links import token_sha256
from shared.mail_outbox import NotNeeded


async def compose_email(uow: UnitOfWork, email: OutgoingEmail, *, settings: Settings) -> EmailMessage | NotNeeded:
    link = await uow.session.get(SignInLink, email.link_id) if email.link_id else None
    if link is None:
        return NotNeeded("link forgotten")
    if link_state(expires_at=link.expires_at, used_at=link.used_at, now=datetime.now(UTC)) is not LinkState.USABLE:
        return NotNeeded("link used or expired")
    token = links.link_token(settings.signing_keys(), link.id)
    if token_sha256(token) != link.token_sha256:
        return NotNeeded("link signed with a retired key")
    url = f"{settings.base_url.rstrip('/')}{pages.SIGN_IN}/{token}"
    return emails.compose(
        email_id=email.id,
        kind=email.kind,
        sender=settings.mail_from,
        to=link.email,
        context={"link": url, "minutes": round(settings.sign_in_link_minutes)},
    )
