"""trust in answers: control items, display ids, rollback pins

Revision ID: 0002_trust
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0002_trust"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("display_id", sa.String(length=255), nullable=True))

    op.create_table(
        "control_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("example_key", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.Column("created_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_id"),
        sa.UniqueConstraint("queue", "example_key", name="uq_control_items_queue_example"),
    )
    op.create_table(
        "queue_pins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("pinned_by", sa.String(length=255), nullable=False),
        sa.Column("pinned_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("unpinned_by", sa.String(length=255), nullable=True),
        sa.Column("unpinned_at", storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("queue_pins", schema=None) as batch_op:
        batch_op.create_index("ix_queue_pins_queue", ["queue"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("queue_pins", schema=None) as batch_op:
        batch_op.drop_index("ix_queue_pins_queue")
    op.drop_table("queue_pins")
    op.drop_table("control_items")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_column("display_id")
