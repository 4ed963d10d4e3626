"""The held-out evaluation's own assistant: the trained model on a shop seeded
from ``tests/dialogues/shop.yml`` (not the demo shop), and every set run once."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Iterator

import pytest

from bench import assistant_eval
from bot import paths
from bot.databases import temporary_database
from bot.model_cache import ensure_model
from bot.processes import BotStack, seed_shop, start_bot_stack


@pytest.fixture(scope="session")
def dialogue_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotStack]:
    """Action server + Rasa server on a fresh PostgreSQL shop holding shop.yml."""
    model = ensure_model(quiet=True)
    workdir: Path = tmp_path_factory.mktemp("dialogues")
    with temporary_database("kara_eval") as shop_db_url:  # see assistant_eval.start: not SQLite
        seed_shop(shop_db_url, assistant_eval.SHOP)
        stack = start_bot_stack(model, shop_db_url, log_dir=workdir)
        yield stack
        stack.stop()


@pytest.fixture(scope="session")
def eval_results(dialogue_stack: BotStack) -> assistant_eval.Results:
    """Dialogues, out-of-domain and safety sets, run once against the stack."""
    target = assistant_eval.Target(ensure_model(quiet=True), paths.ROOT)
    return asyncio.run(assistant_eval.run_sets(dialogue_stack.rasa_url,
                                               assistant_eval.Facts.for_root(paths.ROOT), target,
                                               token=dialogue_stack.rasa_token))
