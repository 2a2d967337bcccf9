"""Push notifications already taken (Salesforce Outbound Message Notification Ids), for idempotency.

Revision ID: 0005
Revises: 0003_replicas
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003_replicas"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "push_notifications",
        sa.Column("source", sa.String(40), primary_key=True),
        sa.Column("notification_id", sa.String(64), primary_key=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_push_notifications_taken_at", "push_notifications", ["taken_at"])


def downgrade() -> None:
    op.drop_index("ix_push_notifications_taken_at", table_name="push_notifications")
    op.drop_table("push_notifications")
