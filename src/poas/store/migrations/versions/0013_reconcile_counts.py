"""The shops' order reconciliation counts on its sync_status row: orders checked and missed by the
last run, and the missed orders of every run so far (the `/metrics` counter, read from the store).

Revision ID: 0013_reconcile_counts
Revises: 0012_orders_list_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_reconcile_counts"
down_revision = "0012_orders_list_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_status") as batch:
        batch.add_column(sa.Column("last_checked", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("last_missed", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("missed_total", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("sync_status") as batch:
        batch.drop_column("missed_total")
        batch.drop_column("last_missed")
        batch.drop_column("last_checked")
