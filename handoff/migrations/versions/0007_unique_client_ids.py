"""A client id is unique within its conversation: the database, not a look-up
before each write, keeps a resend from being stored twice (handoff/message_writes.py).

A burst is then written by its COPY with no look-up first, and two gateway
processes storing the same resend at once store it once (each looked it up,
found nothing and wrote it). Such a pair, stored before this revision, keeps
both rows: the later ones lose their client id, which only matched resends.

Revision ID: 0007
Revises: 0006 (shopper keys)
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.text(
        "UPDATE messages SET client_id = NULL WHERE client_id IS NOT NULL AND seq NOT IN "
        "(SELECT min(seq) FROM messages WHERE client_id IS NOT NULL GROUP BY conversation_id, client_id)"
    ))
    op.drop_index("ix_messages_conversation_client", table_name="messages")
    op.create_index("uq_messages_conversation_client", "messages", ["conversation_id", "client_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_messages_conversation_client", table_name="messages")
    op.create_index("ix_messages_conversation_client", "messages", ["conversation_id", "client_id"])
