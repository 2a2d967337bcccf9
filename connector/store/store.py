"""The state store: jobs, received events and small values, on SQLite or PostgreSQL.

All SQL lives in this package: here, and in the modules of the timeline, the operator's job search and resume
that the Store's methods call. Each public method is one short transaction, so a crash between two calls
leaves the database at the last committed step and the engine resumes from there.

Many worker threads share one Store. SQLite takes one writer at a time: writers here queue on an
in-process lock instead of spinning on SQLite's busy timeout (readers never wait, thanks to WAL).
PostgreSQL needs no such lock.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast, overload

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Boolean,
    Table,
    and_,
    bindparam,
    case,
    create_engine,
    event,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, CursorResult, Engine, Result
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from connector.store import timeline
from connector.store.events import EventCaps, NewEvent
from connector.store.job_search import JobFilter, JobPage, search
from connector.store.jobs import Job, JobState, LatestJob
from connector.store.models import EventRow, JobRow, PushNotificationRow, SettingRow, TimelineRow
from connector.store.pending_effect import effect_from_text, effect_to_text
from connector.store.receipt_chain import ReceiptChain
from connector.store.request_state import RequestState
from connector.store.resume import Resumed, resume
from connector.store.timeline import TimelineEntry, TimelineKind

log = logging.getLogger(__name__)
# PostgreSQL: notified in the transactions that record callbacks or create jobs (connector.runtime.wakeups).
WAKE_CHANNEL = "connector_wake"
_NOTIFY = text("SELECT pg_notify(:channel, :what)")
_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_TERMINAL = [JobState.DONE.value, JobState.PARKED.value]
# What a save writes: never the lease (claim/save handle it), never cancel_reason (request_cancel's alone),
# never what a job is created with and keeps.
_JOB_FIELDS = [c.key for c in JobRow.__table__.columns if c.key not in (
    "cancel_reason", "lease_owner", "lease_until", "id", "entry_key", "rule_id", "rule", "provider",
    "opportunity_id", "opportunity", "created_at", "woken_at")]
_TYPED_FIELDS = ("request_ref", "pending_effect")  # written from Job.request and Job.pending_effect
_JOBS = cast(Table, JobRow.__table__)
_EVENTS = cast(Table, EventRow.__table__)
_PUSHED = cast(Table, PushNotificationRow.__table__)
_CAPS = EventCaps()


class LeaseLost(Exception):
    """The job's lease expired and another worker claimed it: this worker must not act on it any more."""


def lock_key(name: str) -> int:
    """A PostgreSQL advisory lock key for one of the connector's locks (advisory locks are per database)."""
    return zlib.crc32(f"esign-connector:{name}".encode())


def _rowcount(result: Result) -> int:
    """Rows an UPDATE or DELETE matched (every `execute` of one returns a CursorResult; the stub says Result)."""
    return cast(CursorResult, result).rowcount


@overload
def _utc(value: datetime) -> datetime: ...
@overload
def _utc(value: datetime | None) -> datetime | None: ...
def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes even for timezone=True columns.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def application_name() -> str:
    """How this process's PostgreSQL connections name themselves (pg_stat_activity.application_name)."""
    return f"esign-connector/{socket.gethostname()[:32]}/{os.getpid()}"


def make_engine(url: str, pool_size: int | None = None, *, max_overflow: int | None = None,
                pool_timeout: float | None = None, synchronous: str = "NORMAL",
                idle_in_transaction_seconds: float | None = None) -> Engine:
    """SQLite: `pool_size` is the number of threads working at once; one connection each, plus a few for the
    webhook server, the poller and the claimer (connections to a file cost nothing). PostgreSQL: connections
    are the server's to share among replicas, so the pool keeps `pool_size`, opens at most `max_overflow` more
    under a burst, and a thread finding them all busy waits up to `pool_timeout` for one. Every statement is a
    short transaction, so a connection is only held while one runs. `idle_in_transaction_seconds` (PostgreSQL):
    the server ends a session whose transaction stays idle that long, so that a frozen process (SIGSTOP, a
    paused VM) cannot keep rows locked from the other replicas past the end of its job leases."""
    pool: dict[str, float]
    if url.startswith("sqlite"):
        pool = {"pool_size": pool_size + 4, "max_overflow": pool_size} if pool_size else {}
        if ":memory:" in url:
            pool = {}
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    pool = {"pool_size": pool_size, "max_overflow": max_overflow or 0} if pool_size else {}
    if pool_timeout is not None:
        pool["pool_timeout"] = pool_timeout
    connect_args = {"application_name": application_name()}
    if idle_in_transaction_seconds:
        connect_args["options"] = f"-c idle_in_transaction_session_timeout={int(idle_in_transaction_seconds * 1000)}"
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **pool)


class Store:
    def __init__(self, url: str, *, clock: Callable[[], datetime] | None = None, pool_size: int | None = None,
                 max_overflow: int | None = None, pool_timeout: float | None = None,
                 idle_in_transaction_seconds: float | None = None):
        """`pool_size`, `max_overflow`, `pool_timeout`, `idle_in_transaction_seconds`: see make_engine."""
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine = make_engine(url, pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout,
                                  idle_in_transaction_seconds=idle_in_transaction_seconds)
        # Callbacks are acknowledged once recorded, so on SQLite their commits wait for the disk
        # (synchronous=FULL: one sync per batch); the rest keeps WAL's NORMAL. PostgreSQL syncs every commit.
        on_file = self.engine.dialect.name == "sqlite" and ":memory:" not in url
        self._events_engine = make_engine(url, synchronous="FULL") if on_file else self.engine
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._supports_skip_locked = self.engine.dialect.name == "postgresql"
        self._write_lock = threading.Lock() if self.engine.dialect.name == "sqlite" else None
        self._save_statements = {(leased, release): _save_statement(leased=leased, release=release)
                                 for leased in (False, True) for release in (False, True)}
        self.receipts = ReceiptChain(self._tx, self._read, lock_rows=self.engine.dialect.name == "postgresql",
                                     clock=self._clock)

    def migrate(self) -> None:
        """Create or upgrade the schema. On PostgreSQL, replicas starting at once take turns: the first holds a
        lock for its upgrade's transaction, the others wait for it, then find the schema up to date."""
        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        with self.engine.begin() as connection:
            if self.engine.dialect.name == "postgresql":
                key = {"key": lock_key("schema-upgrade")}
                if not connection.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), key):
                    log.info("another replica is upgrading the database schema; waiting for it")
                    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), key)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        self.engine.dispose()
        self._events_engine.dispose()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        if self._write_lock is None:
            yield
            return
        with self._write_lock:
            yield

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        """A transaction that may write (on SQLite, one at a time in this process)."""
        with self._writing(), self._sessions.begin() as session:
            yield session

    @contextmanager
    def _read(self) -> Iterator[Session]:
        """A transaction that only reads: never waits for writers."""
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def _core_tx(self) -> Iterator[Connection]:
        with self._writing(), self.engine.begin() as connection:
            yield connection

    def now(self) -> datetime:
        return self._clock()

    def _notify(self, connection: Connection, what: str) -> None:
        """Tell the other replicas (connector.runtime.wakeups) when this transaction commits; nothing on SQLite."""
        if self.engine.dialect.name == "postgresql":
            connection.execute(_NOTIFY, {"channel": WAKE_CHANNEL, "what": what})

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
                session.flush()
                timeline.write(session.connection(), [_created_entry(row.id, rule_id, provider, opportunity, now)])
        except IntegrityError:
            return None
        return _to_job(row)

    def create_jobs(self, entries: list[dict]) -> list[Job]:
        """`create_job` for many stage entries in one transaction (a bulk load moves thousands at once);
        returns the jobs created, leaving out entries that already had one. Each entry holds create_job's
        keyword arguments."""
        if not entries:
            return []
        now = self.now()
        rows = [{"id": uuid.uuid4().hex, **entry, "state": JobState.NEW.value, "attempts": 0, "next_run_at": now,
                 "created_at": now, "updated_at": now} for entry in entries]
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(_JOBS).on_conflict_do_nothing(index_elements=["entry_key"])
        with self._core_tx() as connection:
            connection.execute(insert, rows)
            created = {job_id for (job_id,) in connection.execute(
                select(_JOBS.c.id).where(_JOBS.c.id.in_([row["id"] for row in rows])))}
            if created:
                timeline.write(connection, [_created_entry(row["id"], row["rule_id"], row["provider"],
                                                           row["opportunity"], now)
                                            for row in rows if row["id"] in created])
                self._notify(connection, "jobs")
        return [_to_job(JobRow(**row)) for row in rows if row["id"] in created]

    def get_job(self, job_id: str) -> Job | None:
        with self._read() as session:
            row = session.get(JobRow, job_id)
            return _to_job(row) if row else None

    def find_job_by_request(self, provider: str, request_id: str) -> Job | None:
        with self._read() as session:
            row = session.scalars(
                select(JobRow).where(JobRow.provider == provider, JobRow.request_id == request_id)
            ).first()
            return _to_job(row) if row else None

    def active_job_for(self, rule_id: str, opportunity_id: str) -> Job | None:
        """The unfinished job of this rule on this opportunity, if any."""
        with self._read() as session:
            row = session.scalars(
                select(JobRow).where(
                    JobRow.rule_id == rule_id,
                    JobRow.opportunity_id == opportunity_id,
                    JobRow.state.not_in([JobState.DONE.value, JobState.PARKED.value]),
                )
            ).first()
            return _to_job(row) if row else None

    def latest_jobs_for(self, opportunity_ids: Collection[str]) -> dict[tuple[str, str], LatestJob]:
        """(rule id, opportunity id) -> the newest job of that rule on that opportunity, for every rule that
        has one on these opportunities: what the poller needs to decide on a stage entry, in one query."""
        if not opportunity_ids:
            return {}
        jobs = _JOBS.c
        query = (select(jobs.id, jobs.rule_id, jobs.opportunity_id, jobs.entry_key, jobs.state, jobs.outcome)
                 .where(jobs.opportunity_id.in_(list(opportunity_ids))).order_by(jobs.created_at))
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return {(row.rule_id, row.opportunity_id): LatestJob(row.id, row.entry_key, JobState(row.state), row.outcome)
                for row in rows}  # ordered oldest first: the newest of each pair is the one kept

    def list_jobs(self, *, states: list[JobState] | None = None, limit: int = 1000) -> list[Job]:
        with self._read() as session:
            query = select(JobRow).order_by(JobRow.created_at).limit(limit)
            if states:
                query = query.where(JobRow.state.in_([s.value for s in states]))
            return [_to_job(row) for row in session.scalars(query)]

    def count_jobs_by_state(self) -> dict[str, int]:
        with self._read() as session:
            rows = session.execute(select(JobRow.state, func.count()).group_by(JobRow.state))
            return {state: count for state, count in rows}

    def count_jobs_by_kind(self) -> dict[tuple[str, str, str, str], int]:
        """Jobs by (state, outcome, provider, parked_from), "" for a missing value: what /metrics shows."""
        with self._read() as session:
            rows = session.execute(select(JobRow.state, JobRow.outcome, JobRow.provider, JobRow.parked_from,
                                          func.count()).group_by(JobRow.state, JobRow.outcome, JobRow.provider,
                                                                 JobRow.parked_from))
            return {(state, outcome or "", provider or "", parked or ""): count
                    for state, outcome, provider, parked, count in rows}

    def claim_due_jobs(self, owner: str, *, limit: int = 10, lease_seconds: float = 300) -> list[Job]:
        """Lease up to `limit` due jobs to `owner`, in one UPDATE so that two claimers never
        share a job: SQLite serialises the statement, PostgreSQL skips rows locked by another."""
        now = self.now()
        token = f"{owner[:40]}:{uuid.uuid4().hex[:12]}"
        claimable = (
            JobRow.state.not_in([JobState.DONE.value, JobState.PARKED.value]),
            JobRow.next_run_at <= now,
            or_(JobRow.lease_until.is_(None), JobRow.lease_until < now),
        )
        due = select(JobRow.id, JobRow.lease_owner, JobRow.lease_until).where(*claimable) \
            .order_by(JobRow.next_run_at).limit(limit)
        if self._supports_skip_locked:
            due = due.with_for_update(skip_locked=True)
        with self._tx() as session:
            # The leases being taken over are read first: the UPDATE's RETURNING only has the new ones.
            candidates = session.execute(due).all()
            if not candidates:
                return []
            ids = [row.id for row in candidates]
            expired = {row.id: _utc(row.lease_until) for row in candidates if row.lease_owner}
            rows = session.scalars(
                update(JobRow).where(JobRow.id.in_(ids), *claimable)
                .values(lease_owner=token, lease_until=now + timedelta(seconds=lease_seconds)).returning(JobRow),
                execution_options={"synchronize_session": False},
            ).all()
            jobs = [_to_job(row) for row in rows]
        for job in jobs:
            job.taken_over_at = expired.get(job.id)
        return sorted(jobs, key=lambda job: job.next_run_at)

    def save_job(self, job: Job, *, release: bool = False, lease_seconds: float | None = None) -> None:
        """Write every changing field of `job`; `release` also gives up the lease, `lease_seconds` extends it.

        A job this worker holds (`lease_token`) is written only while the lease is still its own, else
        LeaseLost. If the job was woken (an event came in, a cancel was asked) while this worker held it,
        the earlier `next_run_at` is kept, so that the wake-up is not overwritten and lost."""
        now = self.now()
        job.updated_at = now
        params = {f"v_{name}": getattr(job, name) for name in _JOB_FIELDS if name not in _TYPED_FIELDS}
        params["v_state"] = JobState(job.state).value
        params["v_request_ref"] = job.request.to_json()
        params["v_pending_effect"] = effect_to_text(job.pending_effect)
        params["v_id"] = job.id
        leased = job.lease_token is not None
        if leased:
            params["v_token"] = job.lease_token
            params["v_seen"] = job.seen_next_run_at or job.next_run_at
            params["v_lease_until"] = now + timedelta(seconds=lease_seconds) if lease_seconds else None
        with self._core_tx() as connection:
            result = connection.execute(self._save_statements[(leased, release)], params)
            saved = _rowcount(result) > 0
            if saved:
                timeline.write(connection, job.notes)
        if leased and not saved:
            raise LeaseLost(job.id)
        job.notes.clear()
        job.seen_next_run_at = job.next_run_at
        if leased and lease_seconds and not release:
            job.lease_until = params["v_lease_until"]
        if release:
            job.lease_token = job.lease_until = None

    def renew_lease(self, job: Job, lease_seconds: float) -> bool:
        """Extend this worker's claim before a step; False when the claim was lost (expired and taken)."""
        until = self.now() + timedelta(seconds=lease_seconds)
        with self._tx() as session:
            result = session.execute(
                update(JobRow).where(JobRow.id == job.id, JobRow.lease_owner == job.lease_token)
                .values(lease_until=until)
            )
        if _rowcount(result) > 0:
            job.lease_until = until
            return True
        return False

    def renew_leases(self, held: Mapping[str, str], until: datetime) -> set[str]:
        """Extend to `until` the leases in `held` (job id -> lease token) that are still this worker's, in one
        statement; returns the ids of those that were. A lease another worker has taken is left alone."""
        if not held:
            return set()
        pairs = tuple_(JobRow.id, JobRow.lease_owner).in_(list(held.items()))
        with self._tx() as session:
            renewed = session.scalars(
                update(JobRow).where(pairs).values(lease_until=until).returning(JobRow.id),
                execution_options={"synchronize_session": False},
            )
            return set(renewed)

    def release_leases(self, held: Mapping[str, str]) -> int:
        """Give up the leases in `held` (job id -> lease token) that are still this worker's, for jobs it claimed
        and never started (a stopping daemon): another worker may claim them at once. Returns how many."""
        if not held:
            return 0
        pairs = tuple_(JobRow.id, JobRow.lease_owner).in_(list(held.items()))
        with self._tx() as session:
            result = session.execute(update(JobRow).where(pairs).values(lease_owner=None, lease_until=None),
                                     execution_options={"synchronize_session": False})
            return _rowcount(result)

    def save_opportunity(self, job: Job) -> None:
        """Write the job's opportunity snapshot (read again for an operator's re-send); save_job never does."""
        conditions = [JobRow.id == job.id]
        if job.lease_token is not None:
            conditions.append(JobRow.lease_owner == job.lease_token)
        with self._tx() as session:
            result = session.execute(update(JobRow).where(*conditions).values(opportunity=job.opportunity),
                                     execution_options={"synchronize_session": False})
        if job.lease_token is not None and _rowcount(result) == 0:
            raise LeaseLost(job.id)

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
            asked = _rowcount(result) > 0
            if asked:
                timeline.write(session.connection(), [timeline.entry(job_id, TimelineKind.CANCEL,
                                                                     f"cancel asked: {reason}", self.now())])
            return asked

    # --- the timeline and the operator's view (connector.store.timeline, job_search, resume) --------------

    def add_timeline(self, job_id: str, kind: str, detail: str, at: datetime | None = None) -> None:
        """Add one entry to a job's timeline in a transaction of its own. A step's entries go with its save
        instead (`Job.note`)."""
        with self._core_tx() as connection:
            timeline.write(connection, [timeline.entry(job_id, kind, detail, at or self.now())])

    def trim_timelines(self) -> int:
        """Delete every job's timeline entries past its newest timeline.MAX_PER_JOB (its creation stays); how
        many. One statement; the daemon runs it hourly."""
        with self._core_tx() as connection:
            return _rowcount(connection.execute(timeline.TRIM, {"keep": timeline.MAX_PER_JOB}))

    def timeline(self, job_id: str) -> list[TimelineEntry]:
        """The job's timeline, oldest first (at most timeline.MAX_PER_JOB entries, and its creation)."""
        with self.engine.connect() as connection:
            return timeline.read(connection, job_id)

    def search_jobs(self, where: JobFilter, *, offset: int = 0, limit: int = 50) -> JobPage:
        """One page of the jobs `where` selects, newest first, with the number of them in all."""
        with self._read() as session:
            rows, total = search(session, where, offset=offset, limit=limit)
            return JobPage(jobs=[_to_job(row) for row in rows], total=total)

    def resume(self, job_id: str, *, by: str) -> Resumed:
        """An operator's retry: a parked job goes back to the step it stopped at; a job refused before anything
        was sent is sent again (a new attempt of the same stage entry, re-reading the opportunity first, see
        connector.store.resume). One transaction, its timeline entry naming `by` included."""
        with self._core_tx() as connection:
            return resume(connection, job_id, now=self.now(), by=by)

    # --- events ----------------------------------------------------------------------------

    def record_events(self, events: Sequence[NewEvent], caps: EventCaps | None = None) -> list[bool | None]:
        """Persist callbacks in one transaction, one INSERT that skips redeliveries; for each event, in order,
        True when recorded, False when there was nothing new to keep (it was recorded before or earlier in
        `events`, or it is stale and informational), None when not kept because of `caps`. Committed to disk
        on return.

        Events that may wake a job are first matched to their job as the dispatcher will match them (the job
        id recorded with them), so that `caps` can count them: per job, or per request and in all when no
        job has their request. Informational events are neither matched nor counted."""
        first: dict[tuple[str, str], NewEvent] = {}
        for item in events:
            first.setdefault(item.key, item)
        if not first:
            return []
        now = self.now()
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        statement = (insert(EventRow).on_conflict_do_nothing(index_elements=["provider", "event_id"])
                     .returning(EventRow.provider, EventRow.event_id))
        rows = {key: dict(provider=e.provider, event_id=e.event_id, request_id=e.request_id,
                          external_id=e.external_id, kind=e.kind, received_at=now, job_id=None,
                          processed_at=now if e.informational else None,
                          disposition="informational" if e.informational else None)
                for key, e in first.items() if not (e.informational and e.stale)}
        over_cap: set[tuple[str, str]] = set()
        # On SQLite this writer queues on the same in-process lock as every other writer.
        with self._writing(), self._events_engine.begin() as connection:
            waking = [row for row in rows.values() if row["disposition"] is None]
            if waking:
                over_cap = _over_caps(connection, waking, caps or _CAPS)
            kept = [row for key, row in rows.items() if key not in over_cap]
            fresh = {(row[0], row[1]) for row in connection.execute(statement, kept)} if kept else set()
            if any(not first[key].informational for key in fresh):
                self._notify(connection, "events")  # other replicas: match them now, wherever the job runs
        answers: list[bool | None] = []
        for item in events:
            answers.append(None if item.key in over_cap else item.key in fresh)
            fresh.discard(item.key)  # a second copy in the same batch is a redelivery too
            over_cap.discard(item.key)
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
        with self._read() as session:
            return list(session.scalars(query))

    def pending_event_matches(self, *, after_id: int = 0, up_to_id: int | None = None,
                              ids: Collection[int] | None = None) -> dict[int, str | None]:
        """Every unprocessed event with a row id in (`after_id`, `up_to_id`] (and in `ids`, if given) -> the
        job it concerns, or None; found in one query. The job must be of the event's provider; the job
        id the request carried (`external_id`) wins over the provider's request id."""
        events, jobs = _EVENTS, _JOBS
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

    def settle_events(self, matched: Mapping[int, str], orphans: Sequence[int], *,
                      wake_interval: timedelta = timedelta(0)) -> None:
        """In one transaction: wake the jobs events matched and mark every event handled (one statement run per
        event), so a crash leaves either both or neither.

        Events wake a job at most once per `wake_interval`, whatever they are and however many: a job an event
        woke less than that long ago is made due when the interval ends instead (never later than it already
        was), so no event is lost and a flood of them costs one status check per interval."""
        now = self.now()
        marks = [{"row_id": row_id, "job": job_id, "disposition": "matched"} for row_id, job_id in matched.items()]
        marks += [{"row_id": row_id, "job": None, "disposition": "orphan"} for row_id in orphans]
        if not marks:
            return
        events = _EVENTS
        with self._core_tx() as connection:
            if matched:
                _wake(connection, set(matched.values()), now, wake_interval)
            connection.execute(
                update(events).where(events.c.id == bindparam("row_id"), events.c.processed_at.is_(None))
                .values(processed_at=now, job_id=bindparam("job"), disposition=bindparam("disposition")),
                marks,
            )
            if matched:
                connection.execute(_callback_entries(list(matched)))

    def prune_events(self, older_than: datetime, *, batch: int = 1000, max_batches: int = 1000) -> int:
        """Delete events handled before `older_than`, `batch` rows a transaction (writers wait for one batch at
        most), at most `max_batches` of them a call; returns how many. Unhandled events are never deleted."""
        events = _EVENTS
        cutoff = older_than.astimezone(UTC) if older_than.tzinfo else older_than  # SQLite compares the UTC digits
        oldest = (select(events.c.id).where(events.c.processed_at.is_not(None), events.c.processed_at < cutoff)
                  .order_by(events.c.id).limit(batch))
        deleted = 0
        for _ in range(max_batches):
            with self._core_tx() as connection:
                count = _rowcount(connection.execute(events.delete().where(events.c.id.in_(oldest.scalar_subquery()))))
            deleted += count
            if count < batch:
                break
        return deleted

    def job_events(self, job_id: str, provider: str, request_id: str | None) -> list[EventRow]:
        """The callbacks kept about one job (matched to it, or about its request), in the order they arrived.
        Only authenticated callbacks are ever kept; handled ones go after CONNECTOR_EVENTS_RETENTION_DAYS."""
        events = _EVENTS.c
        about = [events.job_id == job_id, events.external_id == job_id]
        if request_id:
            about.append(and_(events.provider == provider, events.request_id == request_id))
        with self._read() as session:
            return list(session.scalars(select(EventRow).where(or_(*about)).order_by(EventRow.id)))

    def count_events(self) -> dict[str, int]:
        with self._read() as session:
            rows = session.execute(select(EventRow.disposition, func.count()).group_by(EventRow.disposition))
            return {str(disposition or "pending"): count for disposition, count in rows}

    # --- push notifications taken (connector.triggers.outbound_messages) ----------------------------

    def taken_notifications(self, source: str, notification_ids: Collection[str]) -> set[str]:
        """Which of `notification_ids` from `source` were taken before."""
        if not notification_ids:
            return set()
        pushed = _PUSHED
        with self.engine.connect() as connection:
            rows = connection.execute(select(pushed.c.notification_id).where(
                pushed.c.source == source, pushed.c.notification_id.in_(list(notification_ids))))
            return {notification_id for (notification_id,) in rows}

    def mark_notifications_taken(self, source: str, notification_ids: Collection[str]) -> None:
        """Remember `notification_ids` as taken (one transaction; ids already there are left as they are)."""
        if not notification_ids:
            return
        now = self.now()
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(_PUSHED).on_conflict_do_nothing(index_elements=["source", "notification_id"])
        with self._core_tx() as connection:
            connection.execute(insert, [{"source": source, "notification_id": notification_id, "taken_at": now}
                                        for notification_id in dict.fromkeys(notification_ids)])

    def prune_notifications(self, older_than: datetime) -> int:
        """Forget the notifications taken before `older_than`; how many."""
        cutoff = older_than.astimezone(UTC) if older_than.tzinfo else older_than  # SQLite compares the UTC digits
        with self._core_tx() as connection:
            return _rowcount(connection.execute(_PUSHED.delete().where(_PUSHED.c.taken_at < cutoff)))

    # --- provider rate limits shared by replicas (PostgreSQL; see connector.runtime.shared_ratelimit) ------------

    def reserve_rate_slot(self, name: str, interval: float) -> tuple[float, float]:
        """Reserve the next turn of schedule `name`, whose turns are `interval` seconds apart and never inside a
        pause, in one statement; returns (seconds from now until the turn, seconds the pause still lasts).
        With `interval` 0 nothing is reserved: the turn is now, and only the pause is read."""
        if interval <= 0:
            with self.engine.connect() as connection:
                paused = connection.scalar(_RATE_PAUSE, {"name": name})
            return 0.0, max(paused or 0.0, 0.0)
        with self._core_tx() as connection:
            wait, paused = connection.execute(_RESERVE_RATE_SLOT, {"name": name, "interval": interval}).one()
        return max(wait, 0.0), max(paused, 0.0)

    def pause_rate(self, name: str, seconds: float) -> None:
        """No turn of schedule `name` starts within the next `seconds` (the provider answered 429)."""
        with self._core_tx() as connection:
            connection.execute(_PAUSE_RATE, {"name": name, "seconds": seconds})

    # --- small values ----------------------------------------------------------------------

    def get_value(self, key: str) -> str | None:
        with self._read() as session:
            row = session.get(SettingRow, key)
            return row.value if row else None

    def keep_newest(self, key: str, candidate: dict | None, *, stamp: str) -> dict | None:
        """The JSON object stored at `key`, replaced first by `candidate` when that is newer (a greater
        `candidate[stamp]`), in one transaction: replicas handing in their figures keep the newest."""
        if candidate is None:
            stored = self.get_value(key)
            return json.loads(stored) if stored else None
        try:
            return self._keep_newest(key, candidate, stamp)
        except IntegrityError:  # another replica stored the first figure at the same moment: compare with it
            return self._keep_newest(key, candidate, stamp)

    def _keep_newest(self, key: str, candidate: dict, stamp: str) -> dict:
        with self._tx() as session:
            query = select(SettingRow).where(SettingRow.key == key)
            if self.engine.dialect.name == "postgresql":
                query = query.with_for_update()
            row = session.scalars(query).first()
            current = json.loads(row.value) if row else None
            if current is not None and current.get(stamp, float("-inf")) >= candidate[stamp]:
                return current
            if row:
                row.value = json.dumps(candidate)
            else:
                session.add(SettingRow(key=key, value=json.dumps(candidate)))
            return candidate

    def set_value(self, key: str, value: str) -> None:
        with self._tx() as session:
            row = session.get(SettingRow, key)
            if row:
                row.value = value
            else:
                session.add(SettingRow(key=key, value=value))


# Times on the database server's clock (seconds since the epoch): the one clock every replica shares.
_RESERVE_RATE_SLOT = text(
    "WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now) "
    "INSERT INTO rate_limits AS r (name, next_slot, paused_until) SELECT :name, clock.now + :interval, 0 FROM clock "
    "ON CONFLICT (name) DO UPDATE SET next_slot = GREATEST(r.next_slot, (SELECT now FROM clock), r.paused_until) "
    "+ :interval RETURNING r.next_slot - :interval - (SELECT now FROM clock), r.paused_until - (SELECT now FROM clock)")
_PAUSE_RATE = text(
    "WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now) "
    "INSERT INTO rate_limits AS r (name, next_slot, paused_until) SELECT :name, 0, clock.now + :seconds FROM clock "
    "ON CONFLICT (name) DO UPDATE SET paused_until = GREATEST(r.paused_until, excluded.paused_until)")
_RATE_PAUSE = text(
    "WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now) "
    "SELECT r.paused_until - clock.now FROM rate_limits r, clock WHERE r.name = :name")


def _save_statement(*, leased: bool, release: bool):
    """The UPDATE of `save_job`, built once: values come as bound parameters named v_<column>."""
    columns = _JOBS.c
    values: dict[str, ColumnElement[Any] | None] = {
        name: bindparam(f"v_{name}", type_=columns[name].type) for name in _JOB_FIELDS}
    statement = update(_JOBS).where(columns.id == bindparam("v_id"))
    if leased:
        statement = statement.where(columns.lease_owner == bindparam("v_token"))
        seen = bindparam("v_seen", type_=columns.next_run_at.type)
        woken = and_(columns.next_run_at != seen, columns.next_run_at < values["next_run_at"])
        values["next_run_at"] = case((woken, columns.next_run_at), else_=values["next_run_at"])
        if not release:
            lease_until = bindparam("v_lease_until", type_=columns.lease_until.type)
            values["lease_until"] = func.coalesce(lease_until, columns.lease_until)
    if release:
        values["lease_owner"] = None
        values["lease_until"] = None
    return statement.values(**values)


def _over_caps(connection: Connection, rows: list[dict], caps: EventCaps) -> set[tuple[str, str]]:
    """Match these new event rows to their jobs (setting `job_id`, as `pending_event_matches` will match them)
    and return the keys of those `caps` leave out, in the order given."""
    jobs, events = _JOBS.c, _EVENTS.c
    named = {row["external_id"] for row in rows if row["external_id"]}
    by_id = {(provider, job_id) for job_id, provider in connection.execute(
        select(jobs.id, jobs.provider).where(jobs.id.in_(named)))} if named else set()
    requests = {row["request_id"] for row in rows}
    by_request = {(provider, request_id): job_id for provider, request_id, job_id in connection.execute(
        select(jobs.provider, jobs.request_id, jobs.id).where(jobs.request_id.in_(requests)))}
    for row in rows:
        carried = (row["provider"], row["external_id"])
        row["job_id"] = row["external_id"] if carried in by_id else by_request.get((row["provider"], row["request_id"]))
    known = {row["job_id"] for row in rows if row["job_id"]}
    stored: dict[object, int] = dict(connection.execute(  # per job, and per (provider, request) with no job
        select(events.job_id, func.count()).where(events.job_id.in_(known)).group_by(events.job_id)).all()) \
        if known else {}
    unknown = {row["request_id"] for row in rows if not row["job_id"]}
    unmatched = 0
    if unknown:
        no_job = and_(events.job_id.is_(None), or_(events.disposition.is_(None), events.disposition == "orphan"))
        stored |= {(provider, request_id): count for provider, request_id, count in connection.execute(
            select(events.provider, events.request_id, func.count()).where(events.request_id.in_(unknown), no_job)
            .group_by(events.provider, events.request_id))}
        unmatched = connection.scalar(select(func.count()).select_from(_EVENTS).where(no_job)) or 0
    left_out = set()
    for row in rows:
        counted = row["job_id"] or (row["provider"], row["request_id"])
        if stored.get(counted, 0) >= caps.per_request or (not row["job_id"] and unmatched >= caps.unmatched):
            left_out.add((row["provider"], row["event_id"]))
            continue
        stored[counted] = stored.get(counted, 0) + 1
        unmatched += not row["job_id"]
    if left_out:  # a redelivery of an event kept before is not left out: it is a redelivery
        kept_before = connection.execute(select(events.provider, events.event_id).where(
            events.event_id.in_([event_id for _, event_id in left_out]))).all()
        left_out -= {tuple(row) for row in kept_before}
    return left_out


def _wake(connection: Connection, job_ids: set[str], now: datetime, interval: timedelta) -> None:
    """Make these unfinished jobs due now; one an event woke less than `interval` ago, when that interval ends;
    one with such a wake still to come, then. Each keeps an earlier due time it already has, unless a worker
    holds it: that job was due when claimed and its step may be one that asks the provider nothing (writing
    "Sent", say), so the wake is written as a due time of its own, which the worker's save then keeps
    (see _save_statement) instead of its own later plan."""
    jobs = _JOBS.c
    wakes = []
    for job_id, woken_at, lease_owner, lease_until in connection.execute(
            select(jobs.id, jobs.woken_at, jobs.lease_owner, jobs.lease_until)
            .where(jobs.id.in_(job_ids), jobs.state.not_in(_TERMINAL))):
        woken_at = _utc(woken_at)
        if not interval or woken_at is None or now - woken_at >= interval:
            at = now
        else:  # a wake still to come covers this event; one just past is followed by the next a full interval on
            at = woken_at if woken_at >= now else woken_at + interval
        held = lease_owner is not None and lease_until is not None and _utc(lease_until) > now
        wakes.append({"job": job_id, "at": at.astimezone(UTC), "held": held})  # SQLite compares the UTC digits
    if wakes:
        wake_at = bindparam("at", type_=jobs.next_run_at.type)
        held = bindparam("held", type_=Boolean)
        connection.execute(update(_JOBS).where(jobs.id == bindparam("job")).values(
            next_run_at=case((or_(held, jobs.next_run_at > wake_at), wake_at), else_=jobs.next_run_at),
            woken_at=wake_at), wakes)


def _pending(after_id: int, up_to_id: int | None) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [EventRow.processed_at.is_(None)]
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
        outcome=row.outcome, request_id=row.request_id, request=RequestState.from_json(row.request_ref),
        provider_state=row.provider_state, pending_effect=effect_from_text(row.pending_effect),
        decline_reason=row.decline_reason, last_error=row.last_error, attempts=row.attempts or 0,
        sent_at=_utc(row.sent_at), completed_at=_utc(row.completed_at), parked_from=row.parked_from,
        cancel_reason=row.cancel_reason, lease_token=row.lease_owner, lease_until=_utc(row.lease_until),
        seen_next_run_at=_utc(row.next_run_at),
    )


def _created_entry(job_id: str, rule_id: str, provider: str, opportunity: Mapping[str, Any],
                   now: datetime) -> TimelineEntry:
    entered = opportunity.get("stage_changed_at") or "an unknown time"
    return timeline.entry(job_id, TimelineKind.CREATED,
                          f"stage entry: opportunity {opportunity.get('id')} entered {opportunity.get('stage')!r} "
                          f"at {entered}; rule {rule_id}, provider {provider}", now)


def _callback_entries(row_ids: list[int]):
    """INSERT ... SELECT of one timeline entry per callback just matched to a job, at its arrival. Every stored
    callback passed its adapter's authentication (refused ones are never stored)."""
    events = _EVENTS.c
    detail = (events.provider + literal(" callback '") + events.kind + literal("' (event ") + events.event_id
              + literal("), authenticated"))
    rows = select(events.job_id, events.received_at, literal(str(TimelineKind.CALLBACK)), detail) \
        .where(events.id.in_(row_ids), events.job_id.is_not(None))
    return insert(TimelineRow).from_select(["job_id", "at", "kind", "detail"], rows)
