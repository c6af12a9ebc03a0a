"""Email to people (password resets, staff invitations): through SMTP when it is configured,
else written to the server's log, so the embedded default needs no mail server."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from app.core.config import Settings

log = logging.getLogger("torchquiz.mail")


def send_mail(settings: Settings, to: str, subject: str, body: str) -> None:
    """Send, or log when no SMTP host is set. An SMTP failure is logged, not raised: the
    person is told what was sent in the same words either way, and must not learn from an
    error whether an address has an account."""
    if not settings.smtp_host:
        log.warning("mail not sent (no TORCHQUIZ_SMTP_HOST); to %s: %s\n%s", to, subject, body)
        return
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.smtp_from, to, subject
    message.set_content(body)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.error("mail to %s failed (%s: %s): %s", to, type(exc).__name__, exc, subject)
