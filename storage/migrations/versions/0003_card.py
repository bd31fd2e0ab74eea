"""the card: explanation and warnings with each prediction; context names seen per queue

Revision ID: 0003_card
Revises: 0002_trust
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0003_card"
down_revision = "0002_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("explanation", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("warnings", sa.JSON(), nullable=True))
    op.create_table(
        "context_keys",
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("first_seen_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("queue", "name"),
    )


def downgrade() -> None:
    op.drop_table("context_keys")
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_column("warnings")
        batch_op.drop_column("explanation")
