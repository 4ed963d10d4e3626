"""Fixtures for the fault, hostile-input and load tests: processes of their own.

Nothing here touches the session's shared ``rasa_stack`` or the shared Redis
server's life: the tests kill and restart only what they started.

* ``own_stack``: an action server + Rasa server of this package (trained model
  from the cache, its own seeded SQLite shop), started once for the package.
  ``stack`` gives it to one test with both processes alive (a test before may
  have killed one: it is started again on the same port). Tests that kill one
  are marked ``kills_stack``: they run after the package's other tests
  (``tests/conftest.py``).
* ``private_redis``: a redis-server of the test's own on a free port, without
  persistence, that the test may kill and start again (``restart()``).
* From ``tests/handoff``: ``gateway_process`` (``python -m handoff serve`` as a
  subprocess), ``fresh_pg`` (a PostgreSQL database of the test's own),
  ``redis_prefix`` (a fresh key prefix on the shared Redis), ``make_gateway``.
"""
from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import pytest

from bot.model_cache import ensure_model
from bot.processes import BotStack, ManagedProcess, actions_ready, rasa_ready, seed_shop, start_bot_stack
from tests.conftest import SHARED_SHOPS
from tests.handoff.conftest import fresh_pg, gateway_process, make_gateway, redis_prefix  # noqa: F401
from tests.handoff.helpers import free_port


def revive(process: ManagedProcess, probe, timeout: float = 300) -> None:
    """Start ``process`` again (same command, same port) if it is not running."""
    if not process.alive():
        process.start()
        process.wait_ready(probe, timeout)


@pytest.fixture(scope="package")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotStack]:
    model = ensure_model(quiet=True)
    workdir: Path = tmp_path_factory.mktemp("faults-bot")
    shop_db_url = f"sqlite:///{workdir / 'shop.db'}"
    seed_shop(shop_db_url)
    stack = start_bot_stack(model, shop_db_url, log_dir=workdir)
    stack.log_dir = workdir  # type: ignore[attr-defined]
    SHARED_SHOPS.append(shop_db_url)  # each test starts without the guesses of the tests before
    yield stack
    stack.stop()


@pytest.fixture
def stack(own_stack: BotStack) -> BotStack:
    """``own_stack`` with both processes running."""
    revive(own_stack.actions, lambda: actions_ready(own_stack.actions_url))
    revive(own_stack.rasa, lambda: rasa_ready(own_stack.rasa_url))
    return own_stack


@dataclass
class PrivateRedis:
    port: int
    proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
                client.ping()
                client.close()
                return
            except redis.ConnectionError as exc:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("private redis-server did not start") from exc
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: everything in it is gone (no persistence)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def restart(self) -> None:
        self.kill()
        self.start()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port())
    server.start()
    yield server
    server.kill()
