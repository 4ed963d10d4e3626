"""Gateway settings: one dataclass, filled from CLI flags or ``KARA_GATEWAY_*``.

Each field's environment variable is ``KARA_GATEWAY_`` + its name in upper
case (``KARA_GATEWAY_REDIS_URL``, ``KARA_GATEWAY_GRACE_SECONDS``...);
``allowed_origins`` is comma-separated in ``KARA_GATEWAY_ALLOWED_ORIGIN``,
``trusted_proxies`` in ``KARA_GATEWAY_TRUSTED_PROXY``.
A flag beats the environment, which beats the default.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Mapping, Optional, Tuple

REPO_ROOT = Path(__file__).resolve().parent.parent
#: the embedded default: SQLite under var/
DEFAULT_DB_URL = "sqlite:///var/gateway.db"


@dataclass
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    #: one Rasa process, or several comma-separated (``handoff/rasa_pool.py``)
    rasa_url: str = "http://127.0.0.1:5005"
    #: Rasa's HTTP API token (``rasa run --auth-token``); default ``$KARA_RASA_TOKEN``
    rasa_token: Optional[str] = field(default_factory=lambda: os.environ.get("KARA_RASA_TOKEN") or None)
    db_url: str = DEFAULT_DB_URL
    #: None: live state in this process's memory (one process only)
    redis_url: Optional[str] = None
    redis_prefix: str = "kara"
    #: token signing secret; None: a random one (tokens die with the process)
    secret: Optional[str] = None
    grace_seconds: float = 30.0
    #: an agent is online while a heartbeat renewed their presence this recently
    presence_ttl_s: float = 30.0
    #: how often each process checks that Redis still holds the live state
    #: (after Redis restarted empty it is rebuilt from SQL)
    live_state_check_s: float = 1.0
    emergency_page_after: float = 120.0
    page_webhook: Optional[str] = None
    #: browser Origins allowed on websockets; empty: only the gateway's own
    #: (the request's Host), ``*``: any. Clients that send no Origin (not
    #: browsers) are always allowed.
    allowed_origins: Tuple[str, ...] = ()
    #: a socket that has not said hello this long after it opened is closed (4408)
    hello_timeout_s: float = 10.0
    #: an HTTP request or websocket handshake not read completely this long
    #: after the connection was made is answered 408 and closed
    open_timeout_s: float = 10.0
    #: logins counted per username and per client address in this window
    #: (handoff.throttle); a successful login does not count
    login_window_s: float = 300.0
    login_per_username: int = 5
    login_per_address: int = 20
    #: new conversations one client address may open per window (0: no
    #: limit); the emergency line is never limited
    new_chats_per_address: int = 30
    new_chats_window_s: float = 3600.0
    #: peers whose X-Forwarded-For names the client (a reverse proxy's address)
    trusted_proxies: Tuple[str, ...] = ()
    widget_dir: Path = field(default_factory=lambda: REPO_ROOT / "widget")
    rasa_timeout: float = 20.0
    #: websocket keepalive ping interval; 0 disables pings
    ping_interval: float = 20.0
    #: per-connection rate limit: sustained frames/s and burst
    rate_per_s: float = 10.0
    rate_burst: int = 30
    #: handle time assumed before any chat was closed (estimated wait)
    default_handle_s: float = 180.0
    shopper_token_ttl_s: int = 7 * 24 * 3600
    agent_token_ttl_s: int = 12 * 3600
    #: run Alembic migrations at start
    migrate: bool = True
    #: bearer token of ``GET /metrics``; None: no metrics endpoint (404) (handoff/ops/http.py)
    metrics_token: Optional[str] = None
    #: outside team hours (ops.yml) with nobody online: tell the shopper and offer a ticket, no queue
    out_of_hours_ticket: bool = True
    #: how often the SLA watcher looks for breaches and quiet agents (handoff/escalation.py)
    sla_check_s: float = 5.0
    #: give waiting chats to online agents below their capacity (handoff/assign.py); off: agents claim
    auto_assign: bool = True
    #: a chat transferred to a named agent who has not taken it is open to the whole queue after this
    transfer_offer_s: float = 60.0
    #: event loop: ``uvloop`` (libuv; what Rasa's own Sanic server runs on) or ``asyncio``
    loop: str = "uvloop"
    #: attachments (handoff/attachments/): the directory their bytes are kept in (the embedded
    #: default, relative to the working directory like var/gateway.db) ...
    attachments_dir: Path = field(default_factory=lambda: Path("var/attachments"))
    #: ... or an S3-compatible object store: ``http(s)://HOST[:PORT]/BUCKET`` (credentials in
    #: ``KARA_ATTACHMENTS_S3_ACCESS_KEY`` / ``KARA_ATTACHMENTS_S3_SECRET_KEY``, ``..._REGION``)
    attachments_s3_url: Optional[str] = None
    #: the largest file a shopper or agent may send (413 above it)
    attachment_max_bytes: int = 10 * 1024 * 1024
    #: files one conversation may receive per window (0: no limit), shopper's and agent's together
    attachments_per_conversation: int = 20
    attachments_window_s: float = 3600.0
    #: an upload's whole request may take this long (a 10 MB photo over a slow mobile network)
    upload_timeout_s: float = 120.0

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None, **overrides: object) -> "GatewayConfig":
        env = os.environ if env is None else env
        config = cls()
        for f in fields(cls):
            name = _ENV_NAMES.get(f.name, f.name.upper())
            raw = env.get("KARA_GATEWAY_" + name)
            if raw is not None and raw != "":
                setattr(config, f.name, _convert(getattr(config, f.name), f.name, raw))
        for key, value in overrides.items():
            if value is not None:
                setattr(config, key, value)
        config.allowed_origins = tuple(config.allowed_origins)
        config.trusted_proxies = tuple(config.trusted_proxies)
        config.widget_dir = Path(config.widget_dir)
        config.attachments_dir = Path(config.attachments_dir)
        return config


_ENV_NAMES = {"allowed_origins": "ALLOWED_ORIGIN", "trusted_proxies": "TRUSTED_PROXY"}


def _convert(default: object, name: str, raw: str) -> object:
    if isinstance(default, tuple):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, Path):
        return Path(raw)
    return raw


#: how the mailer talks to the SMTP server: plain, STARTTLS upgrade, or TLS from the first byte
SMTP_TLS_MODES = ("none", "starttls", "tls")
_SMTP_PORTS = {"none": 25, "starttls": 587, "tls": 465}
#: the embedded default: each message an .eml file here (relative to the working directory, as var/gateway.db)
DEFAULT_MAIL_DIR = Path("var/mail")


@dataclass
class MailConfig:
    """The outgoing mail of the agent desk (:mod:`handoff.mail`), from ``KARA_SMTP_*``.

    ``KARA_SMTP_HOST`` (none: no SMTP server, every message is written as an
    ``.eml`` file to ``KARA_SMTP_MAIL_DIR``, default ``var/mail``),
    ``KARA_SMTP_PORT`` (default by TLS mode: 25 / 587 / 465), ``KARA_SMTP_TLS``
    (``none`` | ``starttls`` (default) | ``tls``: implicit TLS),
    ``KARA_SMTP_USER`` / ``KARA_SMTP_PASSWORD`` (log in; only over TLS),
    ``KARA_SMTP_FROM`` (default: the support mailbox of ``policy.yml``),
    ``KARA_SMTP_CA_FILE`` (trust this CA besides the system's, for a private
    relay), ``KARA_SMTP_TIMEOUT_S`` (default 20).
    """

    host: Optional[str] = None
    port: Optional[int] = None
    tls: str = "starttls"
    user: Optional[str] = None
    password: Optional[str] = None
    from_address: Optional[str] = None
    ca_file: Optional[Path] = None
    timeout_s: float = 20.0
    mail_dir: Path = DEFAULT_MAIL_DIR

    def __post_init__(self) -> None:
        if self.tls not in SMTP_TLS_MODES:
            raise ValueError(f"KARA_SMTP_TLS={self.tls!r}: choose one of {', '.join(SMTP_TLS_MODES)}")
        if self.user and self.tls == "none":
            raise ValueError("KARA_SMTP_USER is set with KARA_SMTP_TLS=none: credentials are sent only over TLS")

    @property
    def smtp_port(self) -> int:
        return self.port or _SMTP_PORTS[self.tls]

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None) -> "MailConfig":
        env = os.environ if env is None else env

        def get(name: str) -> Optional[str]:
            return env.get("KARA_SMTP_" + name) or None

        port, timeout, ca_file, mail_dir = get("PORT"), get("TIMEOUT_S"), get("CA_FILE"), get("MAIL_DIR")
        return cls(
            host=get("HOST"),
            port=int(port) if port else None,
            tls=(get("TLS") or "starttls").lower(),
            user=get("USER"),
            password=get("PASSWORD"),
            from_address=get("FROM"),
            ca_file=Path(ca_file) if ca_file else None,
            timeout_s=float(timeout) if timeout else 20.0,
            mail_dir=Path(mail_dir) if mail_dir else DEFAULT_MAIL_DIR,
        )
