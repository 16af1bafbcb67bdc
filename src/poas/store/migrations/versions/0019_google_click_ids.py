"""Orders keep Google's click ids (gclid / gbraid / wbraid) beside Meta's fbclid.

Google's hashed user identifiers need no column: they are kept in `orders.user_data` under the key
`google` (the Data Manager `userData` object, `poas.domain.google_identity`), beside Meta's hashes.

Revision ID: 0019_google_click_ids
Revises: 0018_spend_channel
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_google_click_ids"
down_revision = "0018_spend_channel"
branch_labels = None
depends_on = None

COLUMNS = ("gclid", "gbraid", "wbraid")


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
