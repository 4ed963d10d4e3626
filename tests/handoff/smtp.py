"""A real SMTP server for the mail tests: aiosmtpd's ``Controller`` (its own
event loop in a thread, a real socket on a free port), keeping every message
it accepted; optionally STARTTLS, implicit TLS and AUTH, with a certificate
made by ``openssl`` for 127.0.0.1."""
from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Dict, List, Optional

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from bot.processes import free_port


@dataclass
class Arrived:
    sender: str  # the envelope's MAIL FROM
    recipients: List[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        assert body is not None
        return str(body.get_content()).replace("\r\n", "\n")  # SMTP carries CRLF line ends


def make_certificate(folder: Path) -> Path:
    """A self-signed certificate (and key) for 127.0.0.1 / localhost; the
    certificate file is also the CA a client trusts."""
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert


def server_context(cert: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, cert.with_name("smtp-key.pem"))
    return context


class SmtpServer:
    """``SmtpServer(port=..., starttls=cert | tls=cert, logins={user: password})``, started."""

    def __init__(self, port: Optional[int] = None, *, starttls: Optional[Path] = None, tls: Optional[Path] = None,
                 logins: Optional[Dict[str, str]] = None) -> None:
        self.port = port or free_port()
        self.arrived: List[Arrived] = []
        self.logins_seen: List[str] = []
        params: Dict[str, Any] = {}
        if starttls is not None:
            params.update(tls_context=server_context(starttls), require_starttls=True)
        if logins is not None:
            params.update(authenticator=self._authenticator(logins), auth_required=True,
                          auth_require_tls=starttls is not None or tls is not None)
        self.params = dict(params, ssl_context=server_context(tls) if tls is not None else None)
        self.start()

    def start(self) -> None:
        """Listen (again, after :meth:`stop`, on the same port)."""
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, server_hostname="127.0.0.1",
                                     **self.params)
        self.controller.start()

    def _authenticator(self, logins: Dict[str, str]) -> Any:
        def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            if isinstance(data, LoginPassword):
                user, password = data.login.decode(), data.password.decode()
                if logins.get(user) == password:
                    self.logins_seen.append(user)
                    return AuthResult(success=True)
            return AuthResult(success=False, handled=False)

        return check

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.arrived.append(Arrived(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    def wait(self, count: int = 1, timeout: float = 10) -> List[Arrived]:
        deadline = time.monotonic() + timeout
        while len(self.arrived) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.arrived)} messages arrived, {count} expected")
            time.sleep(0.02)
        return self.arrived

    def stop(self) -> None:
        if self.controller.loop.is_running():
            self.controller.stop()
