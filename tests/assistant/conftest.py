"""Fixtures for the assistant-at-scale tests: real Rasa processes of their own.

* ``pair``: two Rasa servers, each with its action server, on one SQL tracker
  store in a PostgreSQL database of their own (dropped after) and a seeded
  SQLite shop; started once for the package. ``assistant`` gives it to one
  test with every process alive (a test before may have killed one: it is
  started again on the same port, on the same tracker store).
* From ``tests/handoff``: ``gateway_process``, ``fresh_pg``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from bot.databases import temporary_database
from bot.model_cache import ensure_model
from bot.processes import BotStack, actions_ready, rasa_ready, seed_shop, start_bot_stack
from tests.conftest import SHARED_SHOPS
from tests.faults.conftest import revive
from tests.handoff.conftest import fresh_pg, gateway_process  # noqa: F401


@pytest.fixture(scope="package")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotStack]:
    workdir: Path = tmp_path_factory.mktemp("assistant-pair")
    shop_db_url = f"sqlite:///{workdir / 'shop.db'}"
    seed_shop(shop_db_url)
    with temporary_database("kara_tracker") as tracker_db:
        stack = start_bot_stack(ensure_model(quiet=True), shop_db_url, log_dir=workdir,
                                processes=2, tracker_db_url=tracker_db)
        stack.log_dir = workdir  # type: ignore[attr-defined]
        SHARED_SHOPS.append(shop_db_url)  # each test starts without the guesses of the tests before
        try:
            yield stack
        finally:
            stack.stop()


@pytest.fixture
def assistant(pair: BotStack) -> BotStack:
    for member in pair.members:
        revive(member.actions, lambda m=member: actions_ready(m.actions_url))
        revive(member.rasa, lambda m=member: rasa_ready(m.rasa_url, pair.rasa_token))
    return pair
