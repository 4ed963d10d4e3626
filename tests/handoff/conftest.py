"""Fixtures for the gateway tests: real gateways, real websocket clients.

* ``make_gateway(**config)``: start a gateway in this process (its real
  websocket server on a free port, SQLite in ``tmp_path`` unless ``db_url`` is
  given, Rasa on a closed port unless ``rasa_url`` is given); stopped after.
* ``gateway_process(*args)``: ``python -m handoff serve`` as a real subprocess.
* ``redis_prefix``: a fresh Redis key prefix, deleted afterwards.
* ``fresh_pg``: a PostgreSQL database of its own, dropped afterwards.
* ``live``: the live-state settings under test, in memory and in Redis (parametrised).
* ``rasa_url``: the lead's ``rasa_stack`` (trained assistant, started once).
  Set ``KARA_TEST_SKIP_RASA=1`` to skip those tests where no model is trained.

Helpers (``Client``, ``shopper``, ``agent``...) are in ``helpers.py``.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, Iterator, List, Optional

import pytest

from bot.databases import temporary_database

from handoff.config import GatewayConfig
from handoff.server import RunningGateway, start

from .helpers import CLOSED_RASA, GatewayProcess, spawn_gateway

@pytest.fixture
async def make_gateway(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[RunningGateway]]]:
    running: List[RunningGateway] = []

    async def factory(**overrides: Any) -> RunningGateway:
        values: Dict[str, Any] = dict(
            host="127.0.0.1",
            port=0,
            db_url=f"sqlite:///{tmp_path / 'gateway.db'}",
            rasa_url=CLOSED_RASA,
            secret="test-secret",
            ping_interval=0,
            rate_per_s=1000,
            rate_burst=1000,
            widget_dir=tmp_path / "widget",
            new_chats_per_address=0,  # tests open many chats from 127.0.0.1; test_hardening sets its own
            auto_assign=False,  # chats wait until claimed; tests/handoff/test_assign.py turns it on
        )
        values.update(overrides)
        gw = await start(GatewayConfig(**values))
        running.append(gw)
        return gw

    yield factory
    for gw in running:
        await gw.close()


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A fresh key prefix, deleted afterwards (never FLUSHALL)."""
    import redis

    prefix = f"kgtest:{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def fresh_pg() -> Iterator[str]:
    """A PostgreSQL database of its own for one test, dropped after."""
    with temporary_database("kgw") as url:
        yield url


@pytest.fixture
def gateway_process(tmp_path: Path) -> Iterator[Callable[..., GatewayProcess]]:
    started: List[GatewayProcess] = []

    def factory(*args: str, env: Optional[Dict[str, str]] = None) -> GatewayProcess:
        process = spawn_gateway(list(args), tmp_path / f"gateway-{len(started)}.log", env)
        started.append(process)
        return process

    yield factory
    for process in started:
        process.stop()


@pytest.fixture(scope="session")
def rasa_url(request: pytest.FixtureRequest) -> str:
    if os.environ.get("KARA_TEST_SKIP_RASA"):
        from bot.model_cache import model_path

        if not model_path().exists():
            pytest.skip("KARA_TEST_SKIP_RASA is set and no trained model is cached")
    return request.getfixturevalue("rasa_stack").rasa_url


@pytest.fixture(params=["memory", "redis"])
def live(request: pytest.FixtureRequest) -> dict:
    """Config for the live-state store under test."""
    if request.param == "memory":
        return {}
    return {"redis_url": request.getfixturevalue("redis_url"), "redis_prefix": request.getfixturevalue("redis_prefix")}
