"""A synchronous engine for the operations commands (reports, retention).

They run from a terminal or cron, outside the gateway's event loop, on the
same database (``--db-url`` / ``KARA_GATEWAY_DB_URL``). SQLite waits up to
10 s for the gateway's writer instead of failing at once; parameters are
hidden from error messages (they hold what shoppers typed).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

SQLITE_BUSY_MS = 10_000


def engine(url: str) -> Engine:
    made = create_engine(url, future=True, hide_parameters=True)
    if made.dialect.name == "sqlite":

        @event.listens_for(made, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            cursor.close()

    return made
