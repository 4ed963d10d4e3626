"""The agent desk: canned replies (seeded from handoff/desk/canned_defaults.yml),
the supervisors' audit log, conversation labels, and each agent's capacity.

Revision ID: 0004
Revises: 0002 (the integrator sets 0003 when both branches meet; nothing here needs 0003)
Create Date: 2026-12-01
"""
import datetime as dt
from pathlib import Path

import sqlalchemy as sa
import yaml
from alembic import op

revision = "0004"
down_revision = "0002"
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
    now = dt.datetime.now(dt.timezone.utc)
    defaults = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8")) or []
    op.bulk_insert(canned, [{"shortcut": d["shortcut"], "title": d["title"], "text": d["text"],
                             "created_at": now, "updated_at": now} for d in defaults])


def downgrade() -> None:
    op.drop_index("ix_conversation_labels_label", table_name="conversation_labels")
    op.drop_table("conversation_labels")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("canned_replies")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("capacity")
