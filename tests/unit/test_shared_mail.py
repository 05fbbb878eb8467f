from uuid import uuid4

import aiosmtplib

from shared.mail import email_templates, new_message, permanent_failure_code


def test_message_has_a_stable_message_id_so_a_resend_is_recognisable() -> None:
    email_id = uuid4()
    first = new_message(email_id=email_id, sender="a@nhs.uk", to="b@nhs.uk", subject="s")
    again = new_message(email_id=email_id, sender="a@nhs.uk", to="b@nhs.uk", subject="s")
    assert first["Message-ID"] == again["Message-ID"] == f"<{email_id}@hlm360.nhs.invalid>"


def test_only_5xx_replies_are_bounces() -> None:
    assert permanent_failure_code(aiosmtplib.SMTPResponseException(550, "no such user")) == 550
    assert permanent_failure_code(aiosmtplib.SMTPResponseException(451, "try later")) is None
    refused = aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(553, "bad", "x@nhs.uk")])
    assert permanent_failure_code(refused) == 553
    assert permanent_failure_code(ConnectionRefusedError()) is None


def test_html_email_templates_escape_and_text_ones_do_not() -> None:
    env = email_templates("invitations")
    assert env.autoescape("x.html") is True  # type: ignore[operator]
    assert env.autoescape("x.txt") is False  # type: ignore[operator]
