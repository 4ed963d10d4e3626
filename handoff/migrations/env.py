"""Alembic environment of the gateway database (run by ``handoff.storage.migrate``).

The URL comes from the Alembic config (``sqlalchemy.url``). On PostgreSQL the
upgrade holds an advisory lock, so gateway processes started together do not
race to create the same tables.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import text

from handoff.models import metadata
from handoff.storage import make_engine

_PG_LOCK_KEY = 7_276_120_001  # arbitrary, constant: "kara gateway migrations"


def run_offline() -> None:
    context.configure(url=context.config.get_main_option("sqlalchemy.url"), target_metadata=metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.connect() as connection:
            is_pg = connection.dialect.name == "postgresql"
            if is_pg:
                connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
                connection.commit()
            try:
                context.configure(connection=connection, target_metadata=metadata,
                                  render_as_batch=connection.dialect.name == "sqlite")
                with context.begin_transaction():
                    context.run_migrations()
                connection.commit()
            finally:
                if is_pg:
                    connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                    connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
