"""The state store: jobs, received events and small values, on SQLite or PostgreSQL.

All SQL lives here. Each public method is one short transaction, so a crash between two calls
leaves the database at the last committed step and the engine resumes from there.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import and_, bindparam, create_engine, event, func, literal, or_, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from connector.store.events import NewEvent
from connector.store.jobs import Job, JobState
from connector.store.models import EventRow, JobRow, SettingRow

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_TERMINAL = [JobState.DONE.value, JobState.PARKED.value]
_JOB_FIELDS = [c.key for c in JobRow.__table__.columns if c.key not in ("cancel_reason", "lease_owner", "lease_until")]


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes even for timezone=True columns.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def make_engine(url: str, *, synchronous: str = "NORMAL") -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Store:
    def __init__(self, url: str, *, clock: Callable[[], datetime] | None = None):
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine = make_engine(url)
        # Callbacks are acknowledged once recorded, so on SQLite their commits wait for the disk
        # (synchronous=FULL: one sync per batch); the rest keeps WAL's NORMAL. PostgreSQL syncs every commit.
        on_file = self.engine.dialect.name == "sqlite" and ":memory:" not in url
        self._events_engine = make_engine(url, synchronous="FULL") if on_file else self.engine
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._supports_skip_locked = self.engine.dialect.name == "postgresql"

    def migrate(self) -> None:
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        self.engine.dispose()
        self._events_engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def now(self) -> datetime:
        return self._clock()

    # --- jobs ------------------------------------------------------------------------------

    def create_job(self, *, entry_key: str, rule_id: str, rule: dict, provider: str,
                   opportunity_id: str, opportunity: dict) -> Job | None:
        """Insert a job for one stage entry; None when that entry already has one."""
        now = self.now()
        row = JobRow(
            id=uuid.uuid4().hex, entry_key=entry_key, rule_id=rule_id, rule=rule, provider=provider,
            opportunity_id=opportunity_id, opportunity=opportunity, state=JobState.NEW.value,
            attempts=0, next_run_at=now, created_at=now, updated_at=now,
        )
        try:
            with self._tx() as session:
                session.add(row)
        except IntegrityError:
            return None
        return _to_job(row)

    def get_job(self, job_id: str) -> Job | None:
        with self._tx() as session:
            row = session.get(JobRow, job_id)
            return _to_job(row) if row else None

    def find_job_by_request(self, provider: str, request_id: str) -> Job | None:
        with self._tx() as session:
            row = session.scalars(
                select(JobRow).where(JobRow.provider == provider, JobRow.request_id == request_id)
            ).first()
            return _to_job(row) if row else None

    def active_job_for(self, rule_id: str, opportunity_id: str) -> Job | None:
        """The unfinished job of this rule on this opportunity, if any."""
        with self._tx() as session:
            row = session.scalars(
                select(JobRow).where(
                    JobRow.rule_id == rule_id,
                    JobRow.opportunity_id == opportunity_id,
                    JobRow.state.not_in([JobState.DONE.value, JobState.PARKED.value]),
                )
            ).first()
            return _to_job(row) if row else None

    def latest_job_for(self, rule_id: str, opportunity_id: str) -> Job | None:
        with self._tx() as session:
            row = session.scalars(
                select(JobRow).where(JobRow.rule_id == rule_id, JobRow.opportunity_id == opportunity_id)
                .order_by(JobRow.created_at.desc()).limit(1)
            ).first()
            return _to_job(row) if row else None

    def list_jobs(self, *, states: list[JobState] | None = None, limit: int = 1000) -> list[Job]:
        with self._tx() as session:
            query = select(JobRow).order_by(JobRow.created_at).limit(limit)
            if states:
                query = query.where(JobRow.state.in_([s.value for s in states]))
            return [_to_job(row) for row in session.scalars(query)]

    def count_jobs_by_state(self) -> dict[str, int]:
        with self._tx() as session:
            rows = session.execute(select(JobRow.state, func.count()).group_by(JobRow.state))
            return {state: count for state, count in rows}

    def claim_due_jobs(self, owner: str, *, limit: int = 10, lease_seconds: float = 300) -> list[Job]:
        """Lease up to `limit` due jobs to `owner`, in one UPDATE so that two claimers never
        share a job: SQLite serialises the statement, PostgreSQL skips rows locked by another."""
        now = self.now()
        token = f"{owner[:40]}:{uuid.uuid4().hex[:12]}"
        due = (
            select(JobRow.id)
            .where(
                JobRow.state.not_in([JobState.DONE.value, JobState.PARKED.value]),
                JobRow.next_run_at <= now,
                or_(JobRow.lease_until.is_(None), JobRow.lease_until < now),
            )
            .order_by(JobRow.next_run_at)
            .limit(limit)
        )
        if self._supports_skip_locked:
            due = due.with_for_update(skip_locked=True)
        with self._tx() as session:
            session.execute(
                update(JobRow).where(JobRow.id.in_(due.scalar_subquery()))
                .values(lease_owner=token, lease_until=now + timedelta(seconds=lease_seconds)),
                execution_options={"synchronize_session": False},
            )
            rows = session.scalars(select(JobRow).where(JobRow.lease_owner == token).order_by(JobRow.next_run_at))
            return [_to_job(row) for row in rows]

    def save_job(self, job: Job, *, release: bool = False) -> None:
        """Write every field of `job`; `release` also gives up the lease."""
        job.updated_at = self.now()
        values = {name: getattr(job, name) for name in _JOB_FIELDS if hasattr(job, name)}
        values["state"] = JobState(job.state).value
        if release:
            values["lease_owner"] = None
            values["lease_until"] = None
        with self._tx() as session:
            session.execute(update(JobRow).where(JobRow.id == job.id).values(**values))

    def renew_lease(self, job: Job, lease_seconds: float) -> bool:
        """Extend this worker's claim before a step; False when the claim was lost (expired and taken)."""
        with self._tx() as session:
            result = session.execute(
                update(JobRow).where(JobRow.id == job.id, JobRow.lease_owner == job.lease_token)
                .values(lease_until=self.now() + timedelta(seconds=lease_seconds))
            )
            return result.rowcount > 0

    def wake_job(self, job_id: str) -> None:
        """Make a job due now (an event arrived for it)."""
        with self._tx() as session:
            session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.state.not_in([JobState.DONE.value, JobState.PARKED.value]))
                .values(next_run_at=self.now())
            )

    def request_cancel(self, job_id: str, reason: str) -> bool:
        """Ask for a job's request to be cancelled; the engine acts on it at its next step.
        Kept out of save_job so that a worker saving the job at the same moment cannot lose it."""
        with self._tx() as session:
            result = session.execute(
                update(JobRow)
                .where(JobRow.id == job_id,
                       JobRow.state.in_([JobState.NEW.value, JobState.SENT.value, JobState.AWAITING.value]))
                .values(cancel_reason=reason, next_run_at=self.now())
            )
            return result.rowcount > 0

    # --- events ----------------------------------------------------------------------------

    def record_event(self, *, provider: str, event_id: str, request_id: str, external_id: str | None,
                     kind: str) -> bool:
        """Persist a callback; False when this event was recorded before (a redelivery)."""
        return self.record_events([NewEvent(provider, event_id, request_id, external_id, kind)])[0]

    def record_events(self, events: Sequence[NewEvent]) -> list[bool]:
        """Persist callbacks in one transaction, one INSERT that skips redeliveries; for each event, in
        order, False when it was recorded before or earlier in `events`. Committed to disk on return."""
        first: dict[tuple[str, str], NewEvent] = {}
        for item in events:
            first.setdefault(item.key, item)
        if not first:
            return []
        now = self.now()
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        statement = (insert(EventRow).on_conflict_do_nothing(index_elements=["provider", "event_id"])
                     .returning(EventRow.provider, EventRow.event_id))
        rows = [dict(provider=e.provider, event_id=e.event_id, request_id=e.request_id, external_id=e.external_id,
                     kind=e.kind, received_at=now) for e in first.values()]
        with self._events_engine.begin() as connection:
            fresh = {tuple(row) for row in connection.execute(statement, rows)}
        answers = []
        for item in events:
            answers.append(item.key in fresh)
            fresh.discard(item.key)  # a second copy in the same batch is a redelivery too
        return answers

    def last_event_id(self) -> int:
        with self.engine.connect() as connection:
            return connection.scalar(select(func.max(EventRow.id))) or 0

    def unprocessed_events(self, limit: int = 500, *, after_id: int = 0, up_to_id: int | None = None,
                           received_before: datetime | None = None) -> list[EventRow]:
        """Events not yet matched or set aside, oldest first; optionally only row ids in
        (`after_id`, `up_to_id`] and only those received before a time."""
        query = select(EventRow).where(*_pending(after_id, up_to_id)).order_by(EventRow.id).limit(limit)
        if received_before is not None:
            query = query.where(EventRow.received_at < received_before)
        with self._tx() as session:
            return list(session.scalars(query))

    def pending_event_matches(self, *, after_id: int = 0, up_to_id: int | None = None,
                              ids: Collection[int] | None = None) -> dict[int, str | None]:
        """Every unprocessed event with a row id in (`after_id`, `up_to_id`] (and in `ids`, if given) -> the
        job it concerns, or None; found in one query. The job must be of the event's provider; the job
        id the request carried (`external_id`) wins over the provider's request id."""
        events, jobs = EventRow.__table__, JobRow.__table__
        pending = _pending(after_id, up_to_id)
        if ids is not None:
            pending.append(events.c.id.in_(list(ids)))
        by_job_id = (select(events.c.id, jobs.c.id, literal(0)).where(*pending).select_from(
            events.outerjoin(jobs, and_(jobs.c.id == events.c.external_id, jobs.c.provider == events.c.provider))))
        by_request = (select(events.c.id, jobs.c.id, literal(1)).where(*pending)
                      .join(jobs, and_(jobs.c.provider == events.c.provider, jobs.c.request_id == events.c.request_id)))
        with self.engine.connect() as connection:
            rows = connection.execute(union_all(by_job_id, by_request)).all()
        matches: dict[int, str | None] = {}
        for event_row_id, job_id, via_request in rows:
            if not via_request and job_id is not None:
                matches[event_row_id] = job_id
            elif matches.get(event_row_id) is None:
                matches[event_row_id] = job_id
        return matches

    def settle_events(self, matched: Mapping[int, str], orphans: Sequence[int]) -> None:
        """In one transaction: wake the jobs events matched (one UPDATE) and mark every event handled
        (one statement run per event), so a crash leaves either both or neither."""
        now = self.now()
        marks = [{"row_id": row_id, "job": job_id, "disposition": "matched"} for row_id, job_id in matched.items()]
        marks += [{"row_id": row_id, "job": None, "disposition": "orphan"} for row_id in orphans]
        if not marks:
            return
        events = EventRow.__table__
        with self.engine.begin() as connection:
            if matched:
                connection.execute(update(JobRow).where(JobRow.id.in_(set(matched.values())),
                                                        JobRow.state.not_in(_TERMINAL)).values(next_run_at=now))
            connection.execute(
                update(events).where(events.c.id == bindparam("row_id"), events.c.processed_at.is_(None))
                .values(processed_at=now, job_id=bindparam("job"), disposition=bindparam("disposition")),
                marks,
            )

    def mark_event(self, event_row_id: int, *, job_id: str | None, disposition: str) -> None:
        with self._tx() as session:
            session.execute(
                update(EventRow).where(EventRow.id == event_row_id)
                .values(processed_at=self.now(), job_id=job_id, disposition=disposition)
            )

    def count_events(self) -> dict[str, int]:
        with self._tx() as session:
            rows = session.execute(select(EventRow.disposition, func.count()).group_by(EventRow.disposition))
            return {str(disposition or "pending"): count for disposition, count in rows}

    # --- small values ----------------------------------------------------------------------

    def get_value(self, key: str) -> str | None:
        with self._tx() as session:
            row = session.get(SettingRow, key)
            return row.value if row else None

    def set_value(self, key: str, value: str) -> None:
        with self._tx() as session:
            row = session.get(SettingRow, key)
            if row:
                row.value = value
            else:
                session.add(SettingRow(key=key, value=value))


def _pending(after_id: int, up_to_id: int | None) -> list:
    conditions = [EventRow.processed_at.is_(None)]
    if after_id:
        conditions.append(EventRow.id > after_id)
    if up_to_id is not None:
        conditions.append(EventRow.id <= up_to_id)
    return conditions


def _to_job(row: JobRow) -> Job:
    return Job(
        id=row.id, entry_key=row.entry_key, rule_id=row.rule_id, rule=row.rule, provider=row.provider,
        opportunity_id=row.opportunity_id, opportunity=row.opportunity, state=JobState(row.state),
        next_run_at=_utc(row.next_run_at), created_at=_utc(row.created_at), updated_at=_utc(row.updated_at),
        outcome=row.outcome, request_id=row.request_id, request_ref=row.request_ref,
        provider_state=row.provider_state, pending_effect=row.pending_effect,
        decline_reason=row.decline_reason, last_error=row.last_error, attempts=row.attempts or 0,
        sent_at=_utc(row.sent_at), completed_at=_utc(row.completed_at), parked_from=row.parked_from,
        cancel_reason=row.cancel_reason, lease_token=row.lease_owner,
    )
