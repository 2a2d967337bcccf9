"""Caps on stored events and one event wake per job per interval: jobs.woken_at, two events indexes.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("woken_at", sa.DateTime(timezone=True)))
    op.create_index("ix_events_job", "events", ["job_id", "disposition"])
    op.create_index("ix_events_request", "events", ["request_id", "provider"])


def downgrade() -> None:
    op.drop_index("ix_events_request", table_name="events")
    op.drop_index("ix_events_job", table_name="events")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("woken_at")
