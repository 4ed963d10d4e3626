"""Start, watch and stop the system's processes: the action server, the Rasa
server and the gateway. Used by ``./kara run`` and by the test fixtures, so the
tests start the system exactly as a user does."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
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


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux's
    parent-death signal), so even a ``./kara run`` killed with SIGKILL
    leaves no orphan. Elsewhere nothing (the parent's handlers still stop
    its children on SIGTERM)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


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
            preexec_fn=_die_with_parent,
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


def write_endpoints(target: Path, actions_port: int, redis_url: Optional[str] = None) -> Path:
    """Rasa's endpoints file: the action server, and Redis locks when shared.

    With Redis configured, Rasa uses its Redis lock store so that several Rasa
    workers never process two messages of one conversation at once.
    """
    lines = ["action_endpoint:", f"  url: http://127.0.0.1:{actions_port}/webhook"]
    if redis_url:
        from urllib.parse import urlparse

        parsed = urlparse(redis_url)
        lines += ["lock_store:", "  type: redis", f"  url: {parsed.hostname or '127.0.0.1'}",
                  f"  port: {parsed.port or 6379}", f"  db: {(parsed.path or '/0').lstrip('/') or 0}",
                  "  key_prefix: kara"]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n")
    return target


def action_server(port: int, shop_db_url: str, log_dir: Path) -> ManagedProcess:
    return ManagedProcess(
        name="action server",
        cmd=[str(paths.VENV_BIN / "python"), "-m", "rasa_sdk", "--actions", "actions",
             "--port", str(port)],
        log_file=log_dir / "actions.log",
        env={"KARA_SHOP_DB_URL": shop_db_url},
    )


def rasa_server(port: int, model: Path, endpoints: Path, log_dir: Path) -> ManagedProcess:
    return ManagedProcess(
        name="Rasa server",
        cmd=[str(paths.VENV_BIN / "rasa"), "run", "--enable-api", "--cors", "*",
             "--port", str(port), "--model", str(model), "--endpoints", str(endpoints),
             "--interface", "127.0.0.1"],
        log_file=log_dir / "rasa.log",
    )


def rasa_ready(url: str) -> bool:
    status = http_json(f"{url}/status")
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
class BotStack:
    """A running assistant: action server + Rasa server."""

    rasa_url: str
    actions_url: str
    shop_db_url: str
    actions: ManagedProcess
    rasa: ManagedProcess

    def stop(self) -> None:
        self.rasa.stop()
        self.actions.stop()


def start_bot_stack(model: Path, shop_db_url: str, log_dir: Path,
                    rasa_port: Optional[int] = None, actions_port: Optional[int] = None,
                    redis_url: Optional[str] = None, timeout: float = 600) -> BotStack:
    """Start the action server and the Rasa server, and wait until both answer."""
    rasa_port = rasa_port or free_port()
    actions_port = actions_port or free_port()
    endpoints = write_endpoints(log_dir / "endpoints.yml", actions_port, redis_url)
    actions = action_server(actions_port, shop_db_url, log_dir).start()
    rasa = rasa_server(rasa_port, model, endpoints, log_dir).start()
    stack = BotStack(f"http://127.0.0.1:{rasa_port}", f"http://127.0.0.1:{actions_port}",
                     shop_db_url, actions, rasa)
    try:
        actions.wait_ready(lambda: actions_ready(stack.actions_url), timeout)
        rasa.wait_ready(lambda: rasa_ready(stack.rasa_url), timeout)
    except BaseException:
        stack.stop()
        raise
    return stack
