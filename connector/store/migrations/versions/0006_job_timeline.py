"""A per-job timeline for operators: one row per thing that happened to a job (connector.store.timeline).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_timeline",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_job_timeline_job", "job_timeline", ["job_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_job_timeline_job", table_name="job_timeline")
    op.drop_table("job_timeline")
