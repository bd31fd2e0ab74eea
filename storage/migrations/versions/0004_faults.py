"""faults: posts of unknown outcome, scheduled runs, private cards

Revision ID: 0004_faults
Revises: 0003_card
Create Date: 2026-12-01

- ``review_messages.unclear_since``: when a post of the message last ended without a clear
  answer (a timeout, a 5xx): Slack may have posted it, so the channel is searched before
  posting again.
- ``job_runs``: one row per scheduled run of a `hitl clock` job, keyed by (job, slot), so a
  slot runs once even when two clocks overlap.
- ``private_cards``: the items `/hitl next` showed to whom, so a click on such a private card
  counts only for the item it showed, and only for the person it was shown to.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0004_faults"
down_revision = "0003_card"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("unclear_since", storage.tables.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "job_runs",
        sa.Column("job", sa.String(length=128), nullable=False),
        sa.Column("slot", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("started_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job", "slot"),
    )
    op.create_table(
        "private_cards",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("shown_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "item_id"),
    )


def downgrade() -> None:
    op.drop_table("private_cards")
    op.drop_table("job_runs")
    with op.batch_alter_table("review_messages", schema=None) as batch_op:
        batch_op.drop_column("unclear_since")
