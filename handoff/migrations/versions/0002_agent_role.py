"""Agents get a role: ``agent`` (default) or ``supervisor`` (reports, metrics).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite alters a table by copying it; PostgreSQL adds the column in place
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="agent"))


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("role")
