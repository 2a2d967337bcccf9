"""Tables of the state store. Plain SQLAlchemy models; the schema is created by Alembic."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class JobRow(Base):
    """One signing: from a stage entry to the files back on the opportunity."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    entry_key: Mapped[str] = mapped_column(String(200), unique=True)
    rule_id: Mapped[str] = mapped_column(String(100))
    rule: Mapped[dict] = mapped_column(JSON)
    provider: Mapped[str] = mapped_column(String(40))
    opportunity_id: Mapped[str] = mapped_column(String(18), index=True)
    opportunity: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str | None] = mapped_column(String(20))
    request_id: Mapped[str | None] = mapped_column(String(100), index=True)
    request_ref: Mapped[dict | None] = mapped_column(JSON)
    provider_state: Mapped[str | None] = mapped_column(String(40))
    pending_effect: Mapped[str | None] = mapped_column(String(40))
    parked_from: Mapped[str | None] = mapped_column(String(20))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    decline_reason: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When an event last made the job due (or will: a wake held back to one per interval). The store's alone.
    woken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_jobs_due", "state", "next_run_at"),)


class EventRow(Base):
    """A provider callback, recorded before it is acknowledged."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[str] = mapped_column(String(100))
    request_id: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(60))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    job_id: Mapped[str | None] = mapped_column(String(32))
    disposition: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (UniqueConstraint("provider", "event_id", name="uq_events_provider_event"),
                      # what the caps on stored events count: per job, per unknown request, unmatched in all
                      Index("ix_events_job", "job_id", "disposition"),
                      Index("ix_events_request", "request_id", "provider"))


class SettingRow(Base):
    """Small named values: the poll cursor, and later the elected poller."""

    __tablename__ = "kv"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RateLimitRow(Base):
    """A provider's request schedule, shared by every replica (PostgreSQL): the next free turn and the end of
    a pause a 429 asked for, in seconds since the epoch on the database server's clock."""

    __tablename__ = "rate_limits"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    next_slot: Mapped[float] = mapped_column(Float(precision=53))
    paused_until: Mapped[float] = mapped_column(Float(precision=53), default=0)


class ReceiptRow(Base):
    """A signing receipt the connector issued: its place in the chain, and its bytes until they are attached."""

    __tablename__ = "receipts"

    job_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, unique=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    previous_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)


class ReceiptChainRow(Base):
    """The head of the receipt chain: one row (id 1), locked by whoever issues the next receipt."""

    __tablename__ = "receipt_chain"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))


class PushNotificationRow(Base):
    """A push notification a trigger source has taken (an Outbound Message's Notification Id), so that a
    redelivery is acknowledged without being handled again. Kept for a while after the sender stops retrying."""

    __tablename__ = "push_notifications"

    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    notification_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class TimelineRow(Base):
    """One thing that happened to a job, for the operator (connector.store.timeline)."""

    __tablename__ = "job_timeline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_job_timeline_job", "job_id", "id"),)
