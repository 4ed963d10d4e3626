"""Session fixtures shared by every test package: real PostgreSQL, real Redis
and one running assistant (trained at most once, started once per run)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Iterator, List

import pytest

from bot import paths
from bot.databases import temporary_database
from bot.model_cache import ensure_model
from bot.processes import BotStack, seed_shop, start_bot_stack

REDIS_URL = os.environ.get("KARA_TEST_REDIS", "redis://127.0.0.1:6379/0")
# One Rasa API token for every assistant and gateway the tests start (both read it from here).
os.environ.setdefault("KARA_RASA_TOKEN", secrets.token_urlsafe(24))
# Every gateway the tests start (in this process or a child) has people on duty
# around the clock unless its test gives its own ops file: the out-of-hours
# answer is on by default, and a handoff must be queued whenever the tests run.
os.environ.setdefault("KARA_OPS_FILE", str(Path(__file__).resolve().parent / "ops-always.yml"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "kills_stack: the test kills a process of the assistant its "
                            "package shares (it runs after the package's other tests)")


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    """In each test directory, the tests marked ``kills_stack`` run after the
    others (in their own order): no later test of the directory waits for a
    Rasa server to start again (about half a minute each)."""
    by_dir: dict = {}
    for index, item in enumerate(items):
        by_dir.setdefault(Path(str(item.path)).parent, []).append(index)
    for indexes in by_dir.values():
        block = [items[i] for i in indexes]
        block.sort(key=lambda item: item.get_closest_marker("kills_stack") is not None)  # stable
        for index, item in zip(indexes, block):
            items[index] = item


#: shop databases of assistants that several tests share (appended by the fixtures that start them)
SHARED_SHOPS: List[str] = []


def forget_guesses(shop_db_url: str) -> None:
    """Empty the order-guessing lock-out's record (``actions/shop/guesses.py``)."""
    from sqlalchemy import create_engine, exc, text

    engine = create_engine(shop_db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("delete from verification_failures"))
    except exc.OperationalError:
        pass  # no such table yet: nothing was guessed
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def _no_lock_out_from_earlier_tests() -> None:
    """The lock-out holds across conversations, so a test's wrong guesses would
    lock the next test's orders: every test starts without them."""
    for url in SHARED_SHOPS:
        forget_guesses(url)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh PostgreSQL database, dropped after the run."""
    with temporary_database("kara_test") as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the real Redis server (tests use their own key prefixes)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    client.close()
    return REDIS_URL


@pytest.fixture(scope="session")
def rasa_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotStack]:
    """The trained assistant: Rasa server (REST + HTTP API) and action server
    on a freshly seeded SQLite shop database. Started once per test run."""
    model = ensure_model(quiet=True)
    workdir: Path = tmp_path_factory.mktemp("bot")
    shop_db_url = f"sqlite:///{workdir / 'shop.db'}"
    seed_shop(shop_db_url)
    stack = start_bot_stack(model, shop_db_url, log_dir=workdir)
    SHARED_SHOPS.append(shop_db_url)
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return paths.ROOT
