"""Signing receipts: each issued receipt, and the head of their chain (one row every replica takes in turn).

Revision ID: 0007
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "receipts",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("sequence", sa.Integer, nullable=False, unique=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("previous_sha256", sa.String(64), nullable=True, unique=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        # The sealed JSON and its PDF, kept until both are attached to the opportunity.
        sa.Column("body", sa.LargeBinary, nullable=True),
        sa.Column("pdf", sa.LargeBinary, nullable=True),
    )
    chain = op.create_table(
        "receipt_chain",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
    )
    op.bulk_insert(chain, [{"id": 1, "sequence": 0, "sha256": None}])


def downgrade() -> None:
    op.drop_table("receipt_chain")
    op.drop_table("receipts")
