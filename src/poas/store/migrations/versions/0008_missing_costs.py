"""Unknown profit is counted apart: lines without a cost per profit snapshot, orders without cost per rollup.

`profit_snapshots.missing_cost_lines` is the number of order lines priced with no cost and no
fallback margin (0 = the profit is known). Existing snapshots whose missing-cost policy verdict
said "no unit cost" get 1 (at least one line), and every shop's rollups are rebuilt on the next
report (the watermark is dropped), so the new rollup columns are filled in.

Revision ID: 0008_missing_costs
Revises: 0007_alerts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_missing_costs"
down_revision = "0007_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("profit_snapshots") as batch:
        batch.add_column(sa.Column("missing_cost_lines", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE profit_snapshots SET missing_cost_lines = 1 "
        "WHERE sendable = false AND sendable_reason LIKE 'no unit cost%'"
    )
    with op.batch_alter_table("rollup_daily") as batch:
        batch.add_column(
            sa.Column("orders_without_cost", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("revenue_without_cost_minor", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.execute("DELETE FROM rollup_marks")


def downgrade() -> None:
    with op.batch_alter_table("rollup_daily") as batch:
        batch.drop_column("revenue_without_cost_minor")
        batch.drop_column("orders_without_cost")
    with op.batch_alter_table("profit_snapshots") as batch:
        batch.drop_column("missing_cost_lines")
    op.execute("DELETE FROM rollup_marks")
