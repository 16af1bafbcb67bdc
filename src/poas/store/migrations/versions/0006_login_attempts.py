"""Login attempts per client address, shared by every web process.

Revision ID: 0006_login_attempts
Revises: 0005_returns
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_login_attempts"
down_revision = "0005_returns"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_attempts"),
    )
    op.create_index("ix_login_attempts_client", "login_attempts", ["client", "attempted_at"])
    op.create_index("ix_login_attempts_attempted_at", "login_attempts", ["attempted_at"])


def downgrade() -> None:
    op.drop_index("ix_login_attempts_attempted_at", table_name="login_attempts")
    op.drop_index("ix_login_attempts_client", table_name="login_attempts")
    op.drop_table("login_attempts")
