"""The ticket inbox: a ticket's status and answer, and the replies emailed to the shopper.

``tickets`` gets ``status`` (open | answered | closed; every existing ticket
is open), ``answered_at`` / ``answered_by`` (the first reply that was sent;
``handoff/ops/reports.py`` reads ``answered_at``) and ``closed_at``.
``ticket_replies`` holds each reply an agent wrote, sent or not: ``sent_at``
is set once the mail server took it, ``error`` says why it was not.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite alters a table by copying it; PostgreSQL adds the columns in place
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="open"))
        batch.add_column(sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("answered_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key("fk_tickets_answered_by_agents", "agents", ["answered_by"], ["id"])
        batch.create_index("ix_tickets_status_created_at", ["status", "created_at"])
    op.create_table(
        "ticket_replies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(32), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name="fk_ticket_replies_ticket_id_tickets"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name="fk_ticket_replies_conversation_id_conversations"),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name="fk_ticket_replies_agent_id_agents"),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_replies"),
    )
    op.create_index("ix_ticket_replies_ticket_id", "ticket_replies", ["ticket_id"])
    op.create_index("ix_ticket_replies_conversation_id", "ticket_replies", ["conversation_id"])


def downgrade() -> None:
    op.drop_table("ticket_replies")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_status_created_at")
        batch.drop_constraint("fk_tickets_answered_by_agents", type_="foreignkey")
        for column in ("closed_at", "answered_by", "answered_at", "status"):
            batch.drop_column(column)
