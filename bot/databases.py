"""Throw-away PostgreSQL databases, for tests and benchmarks.

One server (``KARA_TEST_PG``, default the machine's ``postgres@127.0.0.1/test``),
one fresh database per use, dropped afterwards even if sessions are still open.
"""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from typing import Iterator, Tuple

PG_SERVER = os.environ.get("KARA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _admin():
    import psycopg2

    conn = psycopg2.connect(PG_SERVER)
    conn.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    return conn


def create_database(prefix: str = "kara_tmp") -> Tuple[str, str]:
    """Create a database; return (name, SQLAlchemy URL)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = _admin()
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        admin.close()
    server = PG_SERVER.split("://", 1)[1].rsplit("/", 1)[0]
    return name, f"postgresql+psycopg2://{server}/{name}"


def drop_database(name: str) -> None:
    admin = _admin()
    try:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


@contextmanager
def temporary_database(prefix: str = "kara_tmp") -> Iterator[str]:
    """A fresh database's SQLAlchemy URL for the ``with`` block."""
    name, url = create_database(prefix)
    try:
        yield url
    finally:
        drop_database(name)
