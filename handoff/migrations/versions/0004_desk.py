"""The agent desk: canned replies (seeded from handoff/desk/canned_defaults.yml),
the supervisors' audit log, conversation labels, each agent's capacity, and the
full-text index of message texts (handoff/desk/search.py): SQLite's FTS5 table
``messages_fts`` kept by triggers, or PostgreSQL's GIN index on
``to_tsvector('simple', translate(text, '-', ' '))``. Neither is in the models (see
``search.not_compared``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
import datetime as dt
from pathlib import Path

import sqlalchemy as sa
import yaml
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_STAMP = sa.DateTime(timezone=True)
DEFAULTS = Path(__file__).resolve().parents[2] / "desk" / "canned_defaults.yml"


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("capacity", sa.Integer(), nullable=False, server_default="3"))
    canned = op.create_table(
        "canned_replies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("shortcut", sa.String(32), nullable=False),
        sa.Column("title", sa.String(128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", _STAMP, nullable=False),
        sa.Column("updated_at", _STAMP, nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["updated_by"], ["agents.id"], name="fk_canned_replies_updated_by_agents"),
        sa.PrimaryKeyConstraint("id", name="pk_canned_replies"),
        sa.UniqueConstraint("shortcut", name="uq_canned_replies_shortcut"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", _STAMP, nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("actor_name", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["agents.id"], name="fk_audit_log_actor_id_agents"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "conversation_labels",
        sa.Column("conversation_id", sa.String(32), nullable=False),
        sa.Column("label", sa.String(32), nullable=False),
        sa.Column("added_by", sa.Integer(), nullable=True),
        sa.Column("added_at", _STAMP, nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name="fk_conversation_labels_conversation_id_conversations"),
        sa.ForeignKeyConstraint(["added_by"], ["agents.id"], name="fk_conversation_labels_added_by_agents"),
        sa.PrimaryKeyConstraint("conversation_id", "label", name="pk_conversation_labels"),
    )
    op.create_index("ix_conversation_labels_label", "conversation_labels", ["label"])
    _search_index_up()
    now = dt.datetime.now(dt.timezone.utc)
    defaults = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8")) or []
    op.bulk_insert(canned, [{"shortcut": d["shortcut"], "title": d["title"], "text": d["text"],
                             "created_at": now, "updated_at": now} for d in defaults])


# SQLite: an external-content FTS5 table on messages.text; every insert, update
# (retention blanks texts) and delete of a message reaches it through a trigger.
_SQLITE_UP = (
    "CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='seq', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_fts(rowid, text) VALUES (new.seq, new.text); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.seq, old.text); END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.seq, old.text); "
    "INSERT INTO messages_fts(rowid, text) VALUES (new.seq, new.text); END",
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",
)
_SQLITE_DOWN = ("DROP TRIGGER messages_fts_update", "DROP TRIGGER messages_fts_delete",
                "DROP TRIGGER messages_fts_insert", "DROP TABLE messages_fts")
# the expression is handoff/desk/search.py's PG_VECTOR (a query must use it word for word)
_PG_UP = ("CREATE INDEX ix_messages_text_search ON messages USING gin "
          "(to_tsvector('simple', translate(text, '-', ' ')))",)
_PG_DOWN = ("DROP INDEX ix_messages_text_search",)


def _search_index_up() -> None:
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_UP if dialect == "sqlite" else _PG_UP if dialect == "postgresql" else ():
        op.execute(statement)


def _search_index_down() -> None:
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_DOWN if dialect == "sqlite" else _PG_DOWN if dialect == "postgresql" else ():
        op.execute(statement)


def downgrade() -> None:
    _search_index_down()
    op.drop_index("ix_conversation_labels_label", table_name="conversation_labels")
    op.drop_table("conversation_labels")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("canned_replies")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("capacity")
