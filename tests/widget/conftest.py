"""Fixtures for the browser tests of widget/: Debian's Chromium driven by
Playwright (never a downloaded browser) and the real gateway, started as
``python -m handoff serve`` in front of the trained assistant (``rasa_stack``).

* ``gateway``: one gateway for the whole run, with the agent ``tolu``;
  ``agent`` adds a fresh agent to it for one test (its own console, its own
  chats).
* ``own_gateway``: a gateway of the test's own (own port, own database),
  for what a shared one cannot promise: nobody online, queues holding exactly
  the test's chats, the gateway going away and coming back.
"""
from __future__ import annotations

import itertools
import json
import os
import sqlite3
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from bot.processes import free_port, gateway_command, terminate  # the gateway: its own environment

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("KARA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
AGENT_USER, AGENT_NAME, AGENT_PASSWORD = "tolu", "Tolu Adebayo", "s3cure-Pass!word"
_agent_ids = itertools.count(1)


# ---- the browser ------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (never `playwright install`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_context(browser):
    """Factory for isolated browser contexts (one per person), closed after the
    test: the people of one test (and the agents they signed in) leave with it."""
    contexts: List = []

    def make(**options):
        options.setdefault("viewport", {"width": 1280, "height": 800})
        ctx = browser.new_context(**options)
        ctx.set_default_timeout(15_000)
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()


def watch(page, errors: List[str]) -> None:
    """Collect script errors and dialogs: an alert() means markup ran."""
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))


# ---- the real gateway -------------------------------------------------------


class PageReceiver:
    """The on-call paging webhook: records every page the gateway posts."""

    def __init__(self) -> None:
        pages = self.pages = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                pages.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/page"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Gateway:
    """One ``python -m handoff serve`` process on a free port with its own
    SQLite database and paging webhook. ``stop()`` / ``start()`` /
    ``restart()`` bring it down and back on the same port, database and
    signing secret (tokens stay valid; live state such as queues is in memory
    and starts empty again)."""

    def __init__(self, rasa_url: str, workdir: Path, auto_assign: bool = False) -> None:
        self.rasa_url = rasa_url
        #: chats wait until an agent claims them unless a test turns automatic assignment on
        self.auto_assign = auto_assign
        self.db_path = workdir / "gateway.db"
        self.db_url = f"sqlite:///{self.db_path}"
        self.log = workdir / "gateway.log"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.pager = PageReceiver()
        self.process: Optional[subprocess.Popen] = None
        self.agent: Dict[str, str] = {}  # the shared gateway's agent

    # -- agents and the database ----------------------------------------------

    def create_agent(self, name: str = "Ada Obi", username: Optional[str] = None,
                     password: str = AGENT_PASSWORD) -> Dict[str, str]:
        """A real agent account, made with ``python -m handoff create-agent``."""
        username = username or f"agent{next(_agent_ids)}-{os.getpid()}"
        created = subprocess.run(
            gateway_command("create-agent", username, "--name", name,
                            "--password", password, "--db-url", self.db_url),
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )
        assert created.returncode == 0, created.stdout + created.stderr
        return {"username": username, "name": name, "password": password}

    def query(self, sql: str, *params) -> List[tuple]:
        """Read what the gateway stored (read-only)."""
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10) as db:
            return db.execute(sql, params).fetchall()

    # -- the process ------------------------------------------------------------

    def start(self) -> "Gateway":
        cmd = [*gateway_command("serve"), "--port", str(self.port),
               "--rasa-url", self.rasa_url, "--db-url", self.db_url,
               "--page-webhook", self.pager.url, "--secret", "widget-tests-secret"]
        # A short grace before a silent agent counts as gone, and an emergency
        # pages the on-call person after 2 s instead of minutes, so tests see it.
        cmd += ["--grace-seconds", "5", "--emergency-page-after", "2"]
        cmd += ["--new-chats-per-address", "0"]  # every test's chats come from 127.0.0.1
        cmd += [] if self.auto_assign else ["--no-auto-assign"]
        offset = self.log.read_text().count("gateway listening on") if self.log.exists() else 0
        with open(self.log, "a") as out:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {proc.returncode}:\n{self.log.read_text()[-4000:]}")
            if self.log.read_text().count("gateway listening on") > offset:
                self.process = proc
                return self
            time.sleep(0.1)
        proc.kill()
        proc.wait(5)
        raise RuntimeError(f"gateway did not start in 60 s:\n{self.log.read_text()[-4000:]}")

    def stop(self) -> None:
        if self.process is None:
            return
        terminate(self.process)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        self.pager.close()


@pytest.fixture(scope="session")
def assistant_url(request) -> str:
    """The trained assistant (``rasa_stack``); KARA_WIDGET_RASA_URL reuses one
    that is already running."""
    if os.environ.get("KARA_WIDGET_RASA_URL"):
        return os.environ["KARA_WIDGET_RASA_URL"]
    return request.getfixturevalue("rasa_stack").rasa_url


@pytest.fixture(scope="session")
def gateway(assistant_url, tmp_path_factory) -> Iterator[Gateway]:
    """The gateway every test shares, with one agent (``gateway.agent``)."""
    gw = Gateway(assistant_url, tmp_path_factory.mktemp("widget-gateway"))
    gw.agent = gw.create_agent(AGENT_NAME, AGENT_USER, AGENT_PASSWORD)
    gw.start()
    yield gw
    gw.close()


@pytest.fixture
def agent(gateway) -> Dict[str, str]:
    """A fresh agent on the shared gateway: its console holds only this test's chats."""
    return gateway.create_agent()


@pytest.fixture
def own_gateway(assistant_url, tmp_path_factory) -> Iterator[Gateway]:
    """A gateway for this test alone (no agent until the test creates one)."""
    gw = Gateway(assistant_url, tmp_path_factory.mktemp("own-gateway")).start()
    yield gw
    gw.close()


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    """docs/screenshots, for the README."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
