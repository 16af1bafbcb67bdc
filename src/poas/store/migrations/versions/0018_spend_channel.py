"""Ad spend rows carry their channel: `meta` (Insights, Ads Manager CSV) or `google` (Ads API, Ads UI CSV).

Existing rows are Meta's. The upsert key stays (shop, account, row, day): a Google customer id
(10 digits) never equals a Meta ad account id (`act_…`).

Revision ID: 0018_spend_channel
Revises: 0017_customers
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_spend_channel"
down_revision = "0017_customers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ad_spend") as batch:
        batch.add_column(sa.Column("channel", sa.String(20), nullable=False, server_default="meta"))


def downgrade() -> None:
    with op.batch_alter_table("ad_spend") as batch:
        batch.drop_column("channel")
