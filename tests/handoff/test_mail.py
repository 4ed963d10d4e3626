"""The mailer (handoff/mail.py) against a real SMTP server (aiosmtpd on a
socket): plain, STARTTLS with a login, implicit TLS; what a refused login, an
untrusted certificate or a server that is not there say; the embedded
default's .eml folder; the ``KARA_SMTP_*`` settings."""
from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Iterator

import pytest

from actions.policy import load_policy
from bot.processes import free_port
from handoff.config import MailConfig
from handoff.mail import Mailer, MailError

from .smtp import SmtpServer, make_certificate

pytestmark = pytest.mark.timeout(120)
TEXT = "Your refund for KH-204518 was sent today.\nIt reaches your bank in 7-10 business days."


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_certificate(tmp_path_factory.mktemp("smtp-cert"))


@pytest.fixture
def plain() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


async def test_plain_smtp_delivers_to_the_recipient(plain: SmtpServer) -> None:
    mailer = Mailer(MailConfig(host="127.0.0.1", port=plain.port, tls="none", from_address="desk@example.com"))
    sent = await mailer.send("ada@example.com", "Re: your message (ticket #7)", TEXT)
    (arrived,) = plain.wait(1)
    assert arrived.recipients == ["ada@example.com"] and arrived.sender == "desk@example.com"
    assert arrived.message["From"] == "desk@example.com" and arrived.message["To"] == "ada@example.com"
    assert arrived.message["Subject"] == "Re: your message (ticket #7)"
    assert arrived.message["Message-ID"] == sent.message_id and sent.via == "smtp"
    assert arrived.text.strip() == TEXT


async def test_the_default_sender_is_the_policy_support_mailbox(plain: SmtpServer) -> None:
    mailer = Mailer(MailConfig(host="127.0.0.1", port=plain.port, tls="none"))
    await mailer.send("ada@example.com", "Hello", "Hi")
    assert plain.wait(1)[0].message["From"] == load_policy().email("support")


async def test_starttls_with_a_login(cert: Path) -> None:
    server = SmtpServer(starttls=cert, logins={"desk": "s3cret pass"})
    try:
        mailer = Mailer(MailConfig(host="127.0.0.1", port=server.port, tls="starttls", user="desk",
                                   password="s3cret pass", ca_file=cert, from_address="desk@example.com"))
        await mailer.send("bola@example.com", "Subject", TEXT)
        (arrived,) = server.wait(1)
        assert server.logins_seen == ["desk"] and arrived.recipients == ["bola@example.com"]
        assert arrived.text.strip() == TEXT

        wrong = Mailer(MailConfig(host="127.0.0.1", port=server.port, tls="starttls", user="desk",
                                  password="wrong", ca_file=cert, from_address="desk@example.com"))
        with pytest.raises(MailError, match="not sent: .* the user name or password was refused"):
            await wrong.send("bola@example.com", "Subject", TEXT)
        # without the CA the self-signed certificate is not trusted: nothing goes out in the clear
        untrusted = Mailer(MailConfig(host="127.0.0.1", port=server.port, tls="starttls", user="desk",
                                      password="s3cret pass", from_address="desk@example.com"))
        with pytest.raises(MailError, match="TLS failed"):
            await untrusted.send("bola@example.com", "Subject", TEXT)
        assert len(server.arrived) == 1
    finally:
        server.stop()


async def test_implicit_tls(cert: Path) -> None:
    server = SmtpServer(tls=cert)
    try:
        mailer = Mailer(MailConfig(host="127.0.0.1", port=server.port, tls="tls", ca_file=cert,
                                   from_address="desk@example.com"))
        await mailer.send("chidi@example.com", "Implicit", TEXT)
        assert server.wait(1)[0].recipients == ["chidi@example.com"]
    finally:
        server.stop()


async def test_a_server_that_is_not_there_is_a_clear_error() -> None:
    mailer = Mailer(MailConfig(host="127.0.0.1", port=free_port(), tls="none", timeout_s=5,
                               from_address="desk@example.com"))
    with pytest.raises(MailError, match=r"^not sent: the mail server SMTP 127\.0\.0\.1:\d+ \(none\) said: connection"):
        await mailer.send("ada@example.com", "Subject", TEXT)


async def test_bad_recipients_and_header_injection(plain: SmtpServer) -> None:
    mailer = Mailer(MailConfig(host="127.0.0.1", port=plain.port, tls="none", from_address="desk@example.com"))
    with pytest.raises(MailError, match="is not an email address"):
        await mailer.send("ada@example.com\nBcc: eve@example.com", "Subject", TEXT)
    await mailer.send("ada@example.com", "Subject\r\nBcc: eve@example.com", TEXT)
    (arrived,) = plain.wait(1)
    assert arrived.recipients == ["ada@example.com"] and arrived.message["Bcc"] is None


async def test_without_a_host_each_message_is_an_eml_file(tmp_path: Path) -> None:
    folder = tmp_path / "var" / "mail"
    mailer = Mailer(MailConfig(mail_dir=folder, from_address="desk@example.com"))
    sent = await mailer.send("ada@example.com", "Re: ticket #3", TEXT)
    assert sent.via == "folder" and sent.path is not None and sent.path.parent == folder
    assert [p.suffix for p in folder.iterdir()] == [".eml"]
    message = email.message_from_bytes(sent.path.read_bytes(), policy=email.policy.default)
    assert (message["To"], message["From"], message["Subject"]) == ("ada@example.com", "desk@example.com",
                                                                     "Re: ticket #3")
    assert message.get_body(("plain",)).get_content().strip() == TEXT  # type: ignore[union-attr]


async def test_an_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "mail"
    blocker.write_text("a file where the folder should be")
    mailer = Mailer(MailConfig(mail_dir=blocker / "sub", from_address="desk@example.com"))
    with pytest.raises(MailError, match="not sent: could not write to the mail folder"):
        await mailer.send("ada@example.com", "Subject", TEXT)


def test_settings_from_the_environment() -> None:
    config = MailConfig.from_env({"KARA_SMTP_HOST": "smtp.example.com", "KARA_SMTP_TLS": "TLS",
                                  "KARA_SMTP_USER": "desk", "KARA_SMTP_PASSWORD": "pw",
                                  "KARA_SMTP_FROM": "help@example.com", "KARA_SMTP_TIMEOUT_S": "5"})
    assert (config.host, config.tls, config.smtp_port, config.user, config.from_address, config.timeout_s) == (
        "smtp.example.com", "tls", 465, "desk", "help@example.com", 5.0)
    assert MailConfig.from_env({"KARA_SMTP_HOST": "h"}).smtp_port == 587  # STARTTLS unless told otherwise
    assert MailConfig.from_env({"KARA_SMTP_HOST": "h", "KARA_SMTP_TLS": "none"}).smtp_port == 25
    assert MailConfig.from_env({}).host is None and MailConfig.from_env({}).mail_dir == Path("var/mail")
    with pytest.raises(ValueError, match="KARA_SMTP_TLS='ssl'"):
        MailConfig.from_env({"KARA_SMTP_TLS": "ssl"})
    with pytest.raises(ValueError, match="credentials are sent only over TLS"):
        MailConfig.from_env({"KARA_SMTP_HOST": "h", "KARA_SMTP_TLS": "none", "KARA_SMTP_USER": "u"})
