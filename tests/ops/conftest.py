"""Fixtures of the operations tests: a transcript database made by the real
Alembic migrations (a fresh SQLite file, and a throw-away PostgreSQL
database), seeded with the history of :mod:`tests.ops.seed`."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import yaml
from alembic import command
from alembic.config import Config

import handoff
from bot.databases import temporary_database
from handoff.ops import db
from handoff.ops.settings import Ops, parse

from .seed import TEST_OPS, seed

MIGRATIONS = Path(handoff.__file__).with_name("migrations")


def migrate(url: str) -> None:
    """The gateway's Alembic migrations, to head."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


@pytest.fixture
def ops() -> Ops:
    return parse(TEST_OPS)


@pytest.fixture
def ops_file(tmp_path: Path) -> Path:
    path = tmp_path / "ops.yml"
    path.write_text(yaml.safe_dump(TEST_OPS), encoding="utf-8")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty transcript database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'gateway.db'}"
        migrate(url)
        yield url
        return
    with temporary_database("kara_ops") as url:
        migrate(url)
        yield url


@pytest.fixture
def seeded_url(empty_url: str) -> str:
    """The migrated database with the seeded November."""
    engine = db.engine(empty_url)
    try:
        with engine.begin() as connection:
            seed(connection)
    finally:
        engine.dispose()
    return empty_url
