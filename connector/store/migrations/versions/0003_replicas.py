"""Replicas: provider rate limits shared by every replica (one row per provider schedule).

Revision ID: 0003_replicas
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_replicas"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Times are seconds since the epoch on the database server's clock, the one clock every replica shares.
    op.create_table(
        "rate_limits",
        sa.Column("name", sa.String(80), primary_key=True),
        sa.Column("next_slot", sa.Float(precision=53), nullable=False),
        sa.Column("paused_until", sa.Float(precision=53), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("rate_limits")
