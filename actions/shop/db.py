"""Engine and sessions for the shop database.

The URL comes from ``KARA_SHOP_DB_URL`` (default ``sqlite:///var/shop.db``).
A relative SQLite path is taken relative to the repository root, not the
working directory, so the action server, the seed command and the tests
agree on one file whatever directory they start in; its folder is created.
Tables are created on first use of an engine (``create_all`` is idempotent),
so a fresh checkout works without a migration step.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, Optional

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.orm import Session, sessionmaker

from actions.shop import guesses  # noqa: F401  (its table is created with the others)
from actions.shop.models import Base

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB_URL = "sqlite:///var/shop.db"
SQLITE_BUSY_MS = 15_000

_engines: Dict[str, Engine] = {}
_lock = threading.Lock()


def configured_url() -> str:
    """``$KARA_SHOP_DB_URL`` or the default SQLite file."""
    return os.environ.get("KARA_SHOP_DB_URL") or DEFAULT_DB_URL


def resolve_url(raw: str) -> URL:
    """Parse ``raw``; anchor a relative SQLite file at the repo root and create its folder."""
    url = make_url(raw)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database)
        if not path.is_absolute():
            path = REPO_ROOT / path
        path.parent.mkdir(parents=True, exist_ok=True)
        url = url.set(database=str(path))
    return url


def _on_sqlite_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # SQLite ignores FOREIGN KEY clauses unless asked, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # Several chats at once (the action server's threads) wait their turn for
    # the write lock instead of failing with "database is locked".
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()
    # pysqlite's own transaction handling breaks SAVEPOINT (used when filing
    # requests); let SQLAlchemy emit BEGIN itself (SQLAlchemy's documented recipe).
    dbapi_connection.isolation_level = None


def _on_sqlite_begin(connection) -> None:  # type: ignore[no-untyped-def]
    # IMMEDIATE: take the write lock when the unit of work starts. A deferred
    # transaction that read first and then writes cannot wait for the lock
    # (SQLite answers SQLITE_BUSY at once to avoid a deadlock), so two chats
    # filing requests together made one fail.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def get_engine(url: Optional[str] = None) -> Engine:
    """The engine for ``url`` (default: :func:`configured_url`), made once, tables created."""
    raw = url or configured_url()
    with _lock:
        engine = _engines.get(raw)
        if engine is None:
            resolved = resolve_url(raw)
            engine = create_engine(resolved, future=True, pool_pre_ping=True)
            if resolved.get_backend_name() == "sqlite":
                event.listen(engine, "connect", _on_sqlite_connect)
                event.listen(engine, "begin", _on_sqlite_begin)
            Base.metadata.create_all(engine)
            _engines[raw] = engine
        return engine


def dispose_engines() -> None:
    """Close every pooled connection and forget the engines (tests, shutdown)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def session_factory(url: Optional[str] = None) -> sessionmaker:
    """A 2.0-style ``sessionmaker`` bound to :func:`get_engine`."""
    return sessionmaker(bind=get_engine(url), future=True, expire_on_commit=False)


@contextmanager
def session_scope(url: Optional[str] = None) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error, always close."""
    with session_factory(url)() as session:
        with session.begin():
            yield session
