"""Engines and migrations of the gateway database: URLs on this environment's drivers
(psycopg 3, sqlite3 / aiosqlite), SQLite's pragmas, the sync engine (Alembic, the transcript
command), the async ones (:class:`handoff.storage.Storage`) and :func:`migrate` (Alembic)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, QueuePool

from .config import DEFAULT_DB_URL

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _driver_url(url: str, sqlite_driver: str) -> str:
    """``url`` on this environment's drivers: psycopg 3 for PostgreSQL, the
    given one for SQLite (the database and its options are kept)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.get_backend_name() == "sqlite":
        parsed = parsed.set(drivername=sqlite_driver)
    return parsed.render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    return _driver_url(url, "sqlite")


def async_url(url: str) -> str:
    return _driver_url(url, "sqlite+aiosqlite")


def _sqlite_file(url: str) -> bool:
    """Whether ``url`` is an SQLite file (its folder is made if missing)."""
    if not url.startswith("sqlite"):
        return False
    path = url.split(":///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return True


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL, a busy timeout and foreign keys on every SQLite connection."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """A synchronous engine for ``url`` (Alembic, the transcript command).
    Parameters are hidden from error messages: they hold what shoppers typed."""
    if _sqlite_file(url):
        engine = create_engine(
            sync_url(url), hide_parameters=True, poolclass=QueuePool, pool_size=pool_size, max_overflow=2,
            connect_args={"check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(sync_url(url), hide_parameters=True, pool_pre_ping=True, pool_size=pool_size, max_overflow=5)


def make_async_engine(url: str, *, pool_size: int = 5) -> AsyncEngine:
    """The gateway's engine for ``url`` (see module docs); SQLite gets WAL, a
    busy timeout and foreign keys, and a pool (opening a connection and its
    pragmas per transaction costs about a millisecond)."""
    if _sqlite_file(url):
        engine = create_async_engine(
            async_url(url), hide_parameters=True, poolclass=AsyncAdaptedQueuePool, pool_size=pool_size,
            max_overflow=2,
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        async_url(url), hide_parameters=True, pool_pre_ping=True, pool_size=pool_size, max_overflow=5
    )


def make_read_engine(url: str, *, pool_size: int = 2) -> Optional[AsyncEngine]:
    """PostgreSQL: an engine for the reads that run on every message (a
    shopper's resend check before each bot turn): autocommit and no pre-ping,
    so a read is one round trip, not four (ping, BEGIN, SELECT, ROLLBACK):
    3.1 ms against 0.9 ms here. A connection the server dropped fails the read
    instead of the ping; :meth:`handoff.storage.Storage._read` then reads
    once more on a new one. SQLite (no ping, no BEGIN for a read): None, the
    main engine serves."""
    if url.startswith("sqlite"):
        return None
    return create_async_engine(
        async_url(url), hide_parameters=True, isolation_level="AUTOCOMMIT", pool_size=pool_size, max_overflow=5
    )


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` with Alembic."""
    from alembic import command
    from alembic.config import Config

    _sqlite_file(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)



def default_db_url() -> str:
    return os.environ.get("KARA_GATEWAY_DB_URL", DEFAULT_DB_URL)
