"""Fixtures for the browser tests of widget/: Debian's Chromium driven by
Playwright (never a downloaded browser), the real gateway started as
``python -m handoff serve`` in front of the trained assistant, and a scripted
stand-in gateway (fake_gateway.py) for the fast page tests."""
from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator, List

import pytest

from .fake_gateway import AGENT as FAKE_AGENT
from .fake_gateway import FakeGateway

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    """Factory for isolated browser contexts (one per person), closed after the test."""
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


# ---- the stand-in gateway ---------------------------------------------------


class FakeServer:
    """FakeGateway on its own event loop thread; can stop and come back on the same port."""

    def __init__(self, **options) -> None:
        self.gateway = FakeGateway(**options)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner = None

    def _run(self, coro, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        from aiohttp import web

        app = self.gateway.app()

        async def close_sockets(_app) -> None:  # a going-away gateway drops its sockets
            for ws in list(self.gateway.agent_sockets):
                await ws.close(code=1001)
            for conv in self.gateway.conversations.values():
                for ws in list(conv.sockets):
                    await ws.close(code=1001)

        app.on_shutdown.append(close_sockets)
        self.runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, shutdown_timeout=0.5).start()

    def start(self) -> "FakeServer":
        self._run(self._start())
        return self

    def stop(self) -> None:
        if self.runner is not None:
            self._run(self.runner.cleanup())
            self.runner = None

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def fake_gateway() -> Iterator[FakeServer]:
    server = FakeServer().start()
    yield server
    server.close()


@pytest.fixture
def fake_gateway_offline() -> Iterator[FakeServer]:
    server = FakeServer(agents_online=False).start()
    yield server
    server.close()


@pytest.fixture
def fake_agent():
    return FAKE_AGENT


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
    """The running gateway process; `restart()` stops it and starts it again on
    the same port, database and signing secret (tokens stay valid)."""

    def __init__(self, start, port: int, log: Path, pager: PageReceiver) -> None:
        self._start = start
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log = log
        self.pager = pager
        self.agent = {"username": AGENT_USER, "name": AGENT_NAME, "password": AGENT_PASSWORD}
        self.process = start()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def start(self) -> None:
        self.process = self._start()

    def restart(self) -> None:
        self.stop()
        self.start()


def _start_gateway(rasa_url: str, db_url: str, port: int, log: Path, page_webhook: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "handoff", "serve", "--port", str(port), "--rasa-url", rasa_url,
           "--db-url", db_url, "--page-webhook", page_webhook, "--secret", "widget-tests-secret"]
    offset = log.read_text().count("gateway listening on") if log.exists() else 0
    # A short grace before a silent shopper counts as gone, and an emergency
    # pages the on-call person after 2 s instead of minutes, so tests see it.
    cmd += ["--grace-seconds", "5", "--emergency-page-after", "2"]
    out = open(log, "a")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        if log.read_text().count("gateway listening on") > offset:
            return proc
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"gateway did not start in 60 s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def assistant_url(request) -> Iterator[str]:
    """The trained assistant (``rasa_stack``). KARA_WIDGET_RASA_URL reuses an
    assistant that is already running; KARA_WIDGET_FAKE_RASA=1 puts a scripted
    stand-in there instead, for quick runs of the page flows without a model."""
    if os.environ.get("KARA_WIDGET_RASA_URL"):
        yield os.environ["KARA_WIDGET_RASA_URL"]
    elif os.environ.get("KARA_WIDGET_FAKE_RASA") == "1":
        from .fake_rasa import FakeRasa

        fake = FakeRasa(free_port()).start()
        yield fake.url
        fake.stop()
    else:
        yield request.getfixturevalue("rasa_stack").rasa_url


@pytest.fixture(scope="session")
def gateway(assistant_url, tmp_path_factory) -> Iterator[Gateway]:
    """`python -m handoff serve` on a free port, a temp SQLite database, one agent."""
    workdir = tmp_path_factory.mktemp("widget-gateway")
    db_url = f"sqlite:///{workdir / 'gateway.db'}"
    log = workdir / "gateway.log"
    created = subprocess.run(
        [sys.executable, "-m", "handoff", "create-agent", AGENT_USER, "--name", AGENT_NAME,
         "--password", AGENT_PASSWORD, "--db-url", db_url],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert created.returncode == 0, created.stdout + created.stderr
    port = free_port()
    pager = PageReceiver()
    gw = Gateway(lambda: _start_gateway(assistant_url, db_url, port, log, pager.url), port, log, pager)
    yield gw
    gw.stop()
    pager.close()


@pytest.fixture(scope="session")
def screenshots_dir(tmp_path_factory) -> Path:
    """docs/screenshots for the README, but only when the real assistant answered."""
    if os.environ.get("KARA_WIDGET_FAKE_RASA") == "1":
        return tmp_path_factory.mktemp("screenshots")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
