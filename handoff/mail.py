"""Outgoing mail: one small mailer for the agent desk's replies and transcripts.

With an SMTP host (:class:`handoff.config.MailConfig`, ``KARA_SMTP_*``) a
message goes to that server over plain SMTP, STARTTLS or implicit TLS, logging
in when credentials are set (only over TLS). Without one (the embedded
default) each message is written as an ``.eml`` file to the mail folder
(``var/mail/``), where a person or a script can read it. ``smtplib`` blocks,
so :meth:`Mailer.send` runs it in a worker thread: the event loop never waits
on a mail server. A message that was not delivered raises :class:`MailError`,
whose text says why in words an agent can act on; nothing is retried here
(the caller keeps what it meant to send).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
import os
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Optional

from .config import MailConfig

logger = logging.getLogger(__name__)


class MailError(Exception):
    """The message was not sent; ``str()`` says why."""


@dataclass(frozen=True)
class Sent:
    """A message handed over: to the SMTP server, or written to ``path``."""

    message_id: str
    via: str  # "smtp" | "folder"
    path: Optional[Path] = None


def default_sender() -> str:
    """The support mailbox of ``policy.yml`` (a policy fact, never written here)."""
    from actions.policy import load_policy

    return load_policy().email("support")


class Mailer:
    """Sends plain-text messages as :class:`MailConfig` says (module docs)."""

    def __init__(self, config: Optional[MailConfig] = None) -> None:
        self.config = config or MailConfig.from_env()
        self.sender = self.config.from_address or default_sender()

    @property
    def description(self) -> str:
        c = self.config
        if not c.host:
            return f"written to {c.mail_dir}/"
        return f"SMTP {c.host}:{c.smtp_port} ({c.tls})"

    def compose(self, to: str, subject: str, text: str, reply_to: Optional[str] = None) -> EmailMessage:
        if not to or "\n" in to or "\r" in to or "@" not in to:
            raise MailError(f"not sent: {to!r} is not an email address")
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = " ".join(subject.split())  # no header injection through a subject
        message["Date"] = email.utils.format_datetime(dt.datetime.now(dt.timezone.utc))
        message["Message-ID"] = email.utils.make_msgid(domain=self.sender.rpartition("@")[2] or None)
        if reply_to:
            message["Reply-To"] = reply_to
        message.set_content(text)
        return message

    async def send(self, to: str, subject: str, text: str, reply_to: Optional[str] = None) -> Sent:
        """Deliver one message; :class:`MailError` when it was not."""
        message = self.compose(to, subject, text, reply_to)
        return await asyncio.to_thread(self.deliver, message)

    def deliver(self, message: EmailMessage) -> Sent:
        """Blocking: SMTP, or the folder when no host is configured."""
        message_id = str(message["Message-ID"])
        if not self.config.host:
            return Sent(message_id, "folder", self._write(message))
        try:
            self._smtp(message)
        except (smtplib.SMTPException, OSError) as exc:  # ssl.SSLError and timeouts are OSErrors
            logger.warning("mail to the SMTP server failed: %s", type(exc).__name__)
            raise MailError(f"not sent: the mail server {self.description} said: {_reason(exc)}") from exc
        return Sent(message_id, "smtp")

    def _smtp(self, message: EmailMessage) -> None:
        c = self.config
        assert c.host
        context = ssl.create_default_context(cafile=str(c.ca_file) if c.ca_file else None)
        client: smtplib.SMTP
        if c.tls == "tls":
            client = smtplib.SMTP_SSL(c.host, c.smtp_port, timeout=c.timeout_s, context=context)
        else:
            client = smtplib.SMTP(c.host, c.smtp_port, timeout=c.timeout_s)
        with client:
            if c.tls == "starttls":
                client.starttls(context=context)
            if c.user:
                client.login(c.user, c.password or "")
            refused = client.send_message(message)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)

    def _write(self, message: EmailMessage) -> Path:
        folder = self.config.mail_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
            stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
            path = folder / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
            partial = path.with_suffix(".eml.part")
            partial.write_bytes(message.as_bytes())
            os.replace(partial, path)  # a reader never sees half a message
        except OSError as exc:
            raise MailError(f"not sent: could not write to the mail folder {folder}: {exc.strerror or exc}") from exc
        return path


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "the recipient was refused"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "the user name or password was refused"
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {detail}".strip()
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc})"
    if isinstance(exc, (TimeoutError, ConnectionRefusedError, smtplib.SMTPServerDisconnected)):
        return {TimeoutError: "no answer in time", ConnectionRefusedError: "connection refused"}.get(
            type(exc), "the connection was closed")
    return str(exc) or type(exc).__name__
