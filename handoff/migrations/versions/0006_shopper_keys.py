"""Shopper keys: what links a shopper's conversations for the agent's context
panel (handoff/shopper_keys.py): the email or phone an order was verified
with, and the widget's browser id.

Revision ID: 0006
Revises: 0005 (attachments)
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shopper_keys",
        sa.Column("conversation_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name="fk_shopper_keys_conversation_id_conversations"),
        sa.PrimaryKeyConstraint("conversation_id", "kind", "value", name="pk_shopper_keys"),
    )
    op.create_index("ix_shopper_keys_kind_value", "shopper_keys", ["kind", "value"])


def downgrade() -> None:
    op.drop_index("ix_shopper_keys_kind_value", table_name="shopper_keys")
    op.drop_table("shopper_keys")
