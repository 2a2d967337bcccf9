"""Initial schema: jobs, events, kv.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("entry_key", sa.String(200), nullable=False, unique=True),
        sa.Column("rule_id", sa.String(100), nullable=False),
        sa.Column("rule", sa.JSON, nullable=False),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("opportunity_id", sa.String(18), nullable=False, index=True),
        sa.Column("opportunity", sa.JSON, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("outcome", sa.String(20)),
        sa.Column("request_id", sa.String(100), index=True),
        sa.Column("request_ref", sa.JSON),
        sa.Column("provider_state", sa.String(40)),
        sa.Column("pending_effect", sa.String(40)),
        sa.Column("parked_from", sa.String(20)),
        sa.Column("cancel_reason", sa.Text),
        sa.Column("decline_reason", sa.Text),
        sa.Column("last_error", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_run_at", _TS, nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", _TS),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("sent_at", _TS),
        sa.Column("completed_at", _TS),
    )
    op.create_index("ix_jobs_due", "jobs", ["state", "next_run_at"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(40), nullable=False),
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.Column("request_id", sa.String(100), nullable=False),
        sa.Column("external_id", sa.String(100)),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("processed_at", _TS, index=True),
        sa.Column("job_id", sa.String(32)),
        sa.Column("disposition", sa.String(20)),
        sa.UniqueConstraint("provider", "event_id", name="uq_events_provider_event"),
    )
    op.create_table(
        "kv",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kv")
    op.drop_table("events")
    op.drop_index("ix_jobs_due", table_name="jobs")
    op.drop_table("jobs")
