"""Order-edit clock repair: `orders.updated_at` is the order version's own `updated_at` again.

Before this version a refund delivered apart (Shopify refunds/create, POST /api/v1/refunds) moved the
stored order's `updated_at` forward to the refund's `processed_at`, so a newer order edit arriving
later was dropped as stale. Where the intake kept the order's payload and its own clock, and the stored
clock equals a refund's `processed_at` and is later than the payload's, the clock goes back to the
payload's. Data only; nothing to undo.

Revision ID: 0009_order_edit_clock
Revises: 0008_missing_costs
"""

from __future__ import annotations

from alembic import op

revision = "0009_order_edit_clock"
down_revision = "0008_missing_costs"
branch_labels = None
depends_on = None

_SAME_ORDER = "io.shop_id = orders.shop_id AND io.order_id = orders.order_id"


def upgrade() -> None:
    op.execute(
        "UPDATE orders SET updated_at = ("
        f" SELECT io.updated_at FROM intake_orders io WHERE {_SAME_ORDER})"
        " WHERE EXISTS ("
        f"  SELECT 1 FROM intake_orders io WHERE {_SAME_ORDER}"
        "   AND io.updated_at IS NOT NULL AND io.updated_at < orders.updated_at)"
        " AND EXISTS ("
        "  SELECT 1 FROM refunds r WHERE r.shop_id = orders.shop_id AND r.order_id = orders.order_id"
        "   AND r.processed_at = orders.updated_at)"
    )


def downgrade() -> None:
    pass  # the advanced clocks were a fault; there is nothing to restore
