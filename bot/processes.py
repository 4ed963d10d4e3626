"""Start, watch and stop the system's processes: the action server, the Rasa
server and the gateway. Used by ``./kara run`` and by the test fixtures, so the
tests start the system exactly as a user does."""
from __future__ import annotations

import functools
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

from bot import paths
from bot.model_cache import training_env


#: the gateway's own environment (current libraries; README "Two Python environments")
GATEWAY_PYTHON = paths.ROOT / ".venv-gateway" / "bin" / "python"


def gateway_command(*args: str) -> List[str]:
    """``python -m handoff ARGS`` in the gateway's environment."""
    return [str(GATEWAY_PYTHON), "-m", "handoff", *args]


def free_port() -> int:
    """A TCP port nobody listens on right now (for tests and parallel runs)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def terminate(proc: "subprocess.Popen[bytes] | subprocess.Popen[str]", timeout: float = 10.0, *,
              group: bool = False, sig: int = signal.SIGTERM) -> None:
    """Stop ``proc`` (with ``group``: its whole process group): ``sig``, then
    SIGKILL if it is still running after ``timeout`` seconds. The one way
    every test, benchmark and ``./kara run`` stops a process."""
    if proc.poll() is not None:
        return

    def send(signal_number: int) -> None:
        try:
            if group:
                os.killpg(proc.pid, signal_number)
            else:
                proc.send_signal(signal_number)
        except ProcessLookupError:
            pass

    send(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        proc.wait(5)


LISTENING = b"gateway listening on "


def listening_url(proc: "subprocess.Popen[bytes]", timeout: float) -> Optional[str]:
    """The URL a starting ``python -m handoff serve`` (stdout piped) prints
    when it listens; None if it exits or prints something else first, or
    says nothing within ``timeout``."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    line = b""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line or proc.poll() is not None:
            break
    if not line.startswith(LISTENING):
        return None
    return line[len(LISTENING):].decode().strip()


def http_json(url: str, timeout: float = 2.0) -> Optional[object]:
    """GET ``url`` and decode JSON; None when nothing answers (yet)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return json.loads(resp.read() or b"null")
    except (urllib.error.URLError, OSError, ValueError):
        return None


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """Whether ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def die_with_parent(parent: int) -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux's
    parent-death signal), so even a ``./kara run`` killed with SIGKILL
    leaves no orphan. A parent that died between the fork and this call
    sends nothing, so the child then stops itself: ``parent`` is the pid
    that forked it. Elsewhere nothing (the parent's handlers still stop its
    children on SIGTERM)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


@dataclass
class ManagedProcess:
    """A child process with its own log file and a readiness probe."""

    name: str
    cmd: List[str]
    log_file: Path
    env: Dict[str, str] = field(default_factory=dict)
    proc: Optional[subprocess.Popen] = None

    def start(self) -> "ManagedProcess":
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_file.open("ab")
        self.proc = subprocess.Popen(
            self.cmd, cwd=paths.ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **training_env(), **self.env},
            start_new_session=True,  # its own process group: stop() reaches its children
            preexec_fn=functools.partial(die_with_parent, os.getpid()),
        )
        return self

    def wait_ready(self, probe: Callable[[], bool], timeout: float) -> None:
        """Poll ``probe`` until it holds; fail early if the process dies."""
        started = time.monotonic()
        last_note = started
        while not probe():
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}); "
                                   f"log tail:\n{self.log_tail()}")
            now = time.monotonic()
            if now - started > timeout:
                raise TimeoutError(f"{self.name} not ready after {timeout:.0f} s; "
                                   f"log tail:\n{self.log_tail()}")
            if now - last_note > 15:
                print(f"  ... waiting for {self.name} ({now - started:.0f} s)", flush=True)
                last_note = now
            time.sleep(0.3)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        if self.proc is not None:
            terminate(self.proc, timeout, group=True, sig=sig)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


#: Rasa's SQL tracker store with a per-process cache of the last turn's tracker
CACHED_SQL_STORE = "bot.rasa_store.CachedSQLTrackerStore"


def tracker_store_lines(db_url: str, store_type: str = CACHED_SQL_STORE) -> List[str]:
    """The ``tracker_store`` section for a SQLAlchemy URL (Rasa's SQL store
    takes the URL apart: dialect, host, port, db, username, password).
    ``store_type`` ``SQL`` is Rasa's own store, as it comes."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    lines = ["tracker_store:", f"  type: {store_type}", f"  dialect: {json.dumps(url.drivername)}"]
    if url.get_backend_name() == "sqlite":
        database = Path(url.database or "tracker.db")
        if not database.is_absolute():
            database = paths.ROOT / database
        database.parent.mkdir(parents=True, exist_ok=True)
        return lines + [f"  db: {json.dumps(str(database))}"]
    lines += [f"  url: {json.dumps(url.host or '127.0.0.1')}", f"  db: {json.dumps(url.database)}"]
    if url.port:
        lines.append(f"  port: {url.port}")
    if url.username:
        lines.append(f"  username: {json.dumps(url.username)}")
    if url.password:
        lines.append(f"  password: {json.dumps(str(url.password))}")
    return lines


def write_endpoints(target: Path, actions_port: int, redis_url: Optional[str] = None,
                    tracker_db_url: Optional[str] = None, store_type: str = CACHED_SQL_STORE) -> Path:
    """Rasa's endpoints file: the action server, the responses' policy facts,
    the SQL tracker store, and Redis locks when shared.

    With a tracker store in SQL a Rasa restart forgets nothing and several
    Rasa processes share every conversation's context. With Redis configured,
    Rasa uses its Redis lock store so that several Rasa processes never
    process two messages of one conversation at once.
    """
    lines = ["action_endpoint:", f"  url: http://127.0.0.1:{actions_port}/webhook",
             # the policy facts' {placeholders} in responses (bot/rasa_nlg.py)
             "nlg:", "  type: bot.rasa_nlg.PolicyFactsNLG"]
    if tracker_db_url:
        lines += tracker_store_lines(tracker_db_url, store_type)
    if redis_url:
        from urllib.parse import urlparse

        parsed = urlparse(redis_url)
        lines += ["lock_store:", "  type: redis", f"  url: {parsed.hostname or '127.0.0.1'}",
                  f"  port: {parsed.port or 6379}", f"  db: {(parsed.path or '/0').lstrip('/') or 0}",
                  "  key_prefix: kara"]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n")
    return target


def default_tracker_db(shop_db_url: str) -> str:
    """Where the tracker store lives unless told: on a database server, the
    shop's database (Rasa's table is ``events``, no clash); with SQLite, a
    ``tracker.db`` next to the shop's file (its own file: its own write lock)."""
    from sqlalchemy.engine import make_url

    url = make_url(shop_db_url)
    if url.get_backend_name() != "sqlite":
        return shop_db_url
    folder = Path(url.database).parent if url.database and url.database != ":memory:" else paths.VAR
    if not folder.is_absolute():
        folder = paths.ROOT / folder
    return f"sqlite:///{folder / 'tracker.db'}"


def action_server(port: int, shop_db_url: str, log_dir: Path, suffix: str = "") -> ManagedProcess:
    return ManagedProcess(
        name=f"action server{suffix}",
        cmd=[str(paths.VENV_BIN / "python"), "-m", "rasa_sdk", "--actions", "actions",
             "--port", str(port)],
        log_file=log_dir / f"actions{suffix.replace(' ', '-')}.log",
        # rasa-sdk 3.6 has no --host flag; its server binds SANIC_HOST (default 0.0.0.0).
        env={"KARA_SHOP_DB_URL": shop_db_url, "SANIC_HOST": "127.0.0.1"},
    )


def rasa_server(port: int, model: Path, endpoints: Path, log_dir: Path, auth_token: str,
                suffix: str = "") -> ManagedProcess:
    # No --cors: only the gateway (no browser) talks to Rasa. The token guards
    # the HTTP API (tracker, pause, resume, delete); the REST webhook needs none
    # and is reachable from this host only (--interface 127.0.0.1).
    return ManagedProcess(
        name=f"Rasa server{suffix}",
        cmd=[str(paths.VENV_BIN / "python"), "-c", _RASA_WITH_TOKEN, "run", "--enable-api",
             "--port", str(port), "--model", str(model), "--endpoints", str(endpoints),
             "--interface", "127.0.0.1"],
        log_file=log_dir / f"rasa{suffix.replace(' ', '-')}.log",
        env={"KARA_RASA_TOKEN": auth_token},
    )


# ``rasa`` with ``--auth-token`` from the environment: Rasa takes the token
# only as a flag, and a flag is in every local user's process list. One
# ``--flag=value`` word: a token may begin with "-", which argparse would
# otherwise read as the next flag (a random token failed CI that way).
# bot/rasa_speedups/ patches some of Rasa's per-turn costs before Rasa loads;
# bot/local_actions.py runs the session start in Rasa's process.
_RASA_WITH_TOKEN = ("import os, sys; import bot.rasa_speedups, bot.local_actions; bot.rasa_speedups.install(); "
                    "bot.local_actions.install(); "
                    "from rasa.__main__ import main; "
                    "sys.argv = ['rasa', *sys.argv[1:], '--auth-token=' + os.environ.pop('KARA_RASA_TOKEN')]; "
                    "sys.exit(main())")


def rasa_token() -> str:
    """``$KARA_RASA_TOKEN`` (shared by every Rasa process and gateway of a
    deployment), else a random one for this run."""
    return os.environ.get("KARA_RASA_TOKEN") or secrets.token_urlsafe(24)


def rasa_ready(url: str, token: Optional[str] = None) -> bool:
    """Rasa answers with a model loaded (``/status`` needs the API token;
    default ``$KARA_RASA_TOKEN``)."""
    token = token if token is not None else os.environ.get("KARA_RASA_TOKEN", "")
    status = http_json(f"{url}/status?token={urllib.parse.quote(token)}")
    return isinstance(status, dict) and bool(status.get("model_id"))


def actions_ready(url: str) -> bool:
    health = http_json(f"{url}/health")
    return isinstance(health, dict) and health.get("status") == "ok"


def seed_shop(shop_db_url: str, demo_file: Path = paths.DEMO_SHOP) -> None:
    """Load the demo shop data (idempotent) through the seed command."""
    subprocess.run(
        [str(paths.VENV_BIN / "python"), "-m", "actions.shop.seed", "--db-url", shop_db_url,
         str(demo_file)],
        cwd=paths.ROOT, check=True, env={**os.environ, **training_env()},
    )


@dataclass
class BotProcess:
    """One Rasa server with its own action server."""

    rasa_url: str
    actions_url: str
    rasa: ManagedProcess
    actions: ManagedProcess

    def stop(self) -> None:
        self.rasa.stop()
        self.actions.stop()


@dataclass
class BotStack:
    """A running assistant: one or more Rasa servers (each with its action
    server) sharing one SQL tracker store. ``rasa``/``rasa_url``/``actions``/
    ``actions_url`` are the first process's."""

    members: List[BotProcess]
    shop_db_url: str
    tracker_db_url: str
    rasa_token: str

    @property
    def rasa(self) -> ManagedProcess:
        return self.members[0].rasa

    @property
    def actions(self) -> ManagedProcess:
        return self.members[0].actions

    @property
    def rasa_url(self) -> str:
        return self.members[0].rasa_url

    @property
    def actions_url(self) -> str:
        return self.members[0].actions_url

    @property
    def rasa_urls(self) -> List[str]:
        return [member.rasa_url for member in self.members]

    def stop(self) -> None:
        for member in self.members:
            member.stop()


def start_bot_stack(model: Path, shop_db_url: str, log_dir: Path,
                    rasa_port: Optional[int] = None, actions_port: Optional[int] = None,
                    redis_url: Optional[str] = None, timeout: float = 600,
                    processes: int = 1, tracker_db_url: Optional[str] = None,
                    auth_token: Optional[str] = None, store_type: str = CACHED_SQL_STORE) -> BotStack:
    """Start ``processes`` Rasa servers, each with its action server, on one
    SQL tracker store (default :func:`default_tracker_db`), and wait until all
    answer. Given ports are the first process's; the next ones count up."""
    tracker_db_url = tracker_db_url or default_tracker_db(shop_db_url)
    token = auth_token or rasa_token()
    members: List[BotProcess] = []
    stack = BotStack(members, shop_db_url, tracker_db_url, token)
    try:
        for index in range(max(1, processes)):
            suffix = f" {index + 1}" if index else ""
            r_port = rasa_port + index if rasa_port else free_port()
            a_port = actions_port + index if actions_port else free_port()
            endpoints = write_endpoints(log_dir / f"endpoints{suffix.replace(' ', '-')}.yml",
                                        a_port, redis_url, tracker_db_url, store_type)
            actions = action_server(a_port, shop_db_url, log_dir, suffix).start()
            rasa = rasa_server(r_port, model, endpoints, log_dir, token, suffix).start()
            members.append(BotProcess(f"http://127.0.0.1:{r_port}", f"http://127.0.0.1:{a_port}",
                                      rasa, actions))
        for member in members:
            member.actions.wait_ready(lambda m=member: actions_ready(m.actions_url), timeout)
            member.rasa.wait_ready(lambda m=member: rasa_ready(m.rasa_url, token), timeout)
    except BaseException:
        stack.stop()
        raise
    return stack


def stock_rasa(model: Path, shop_db_url: str, log_dir: Path, tracker_db_url: Optional[str] = None) -> BotProcess:
    """Rasa as it comes: ``rasa run`` without the project's patches
    (``bot/rasa_speedups/``) or tracker store, open API, ``--cors *`` (as the
    project ran it before), with its own action server; Rasa's in-memory
    tracker store, or its own SQL store on ``tracker_db_url``. The yardstick
    of ``bench.assistant_scale`` and of the test that the project's assistant
    answers as Rasa does."""
    r_port, a_port = free_port(), free_port()
    endpoints = write_endpoints(log_dir / "endpoints-stock.yml", a_port, tracker_db_url=tracker_db_url,
                                store_type="SQL")
    actions = action_server(a_port, shop_db_url, log_dir, " stock").start()
    rasa = ManagedProcess(
        "stock Rasa", [str(paths.VENV_BIN / "rasa"), "run", "--enable-api", "--cors", "*", "--port",
                       str(r_port), "--model", str(model), "--endpoints", str(endpoints),
                       "--interface", "127.0.0.1"], log_dir / "rasa-stock.log").start()
    member = BotProcess(f"http://127.0.0.1:{r_port}", f"http://127.0.0.1:{a_port}", rasa, actions)
    actions.wait_ready(lambda: actions_ready(member.actions_url), 300)
    rasa.wait_ready(lambda: rasa_ready(member.rasa_url, ""), 300)
    return member
