"""Which replica polls Salesforce: one at a time, elected in the database.

Replicas sharing a PostgreSQL database elect the poller with a session advisory lock, held on a connection of
its own (outside the pool). The replica holding it polls; the others ask for it at each poll tick and do not
poll. The lock lives as long as the session: a replica that stops resigns; one that dies (SIGKILL, OOM kill)
loses its connection, PostgreSQL ends the session and frees the lock, and the next follower to tick takes it,
within one poll interval. A network cut is noticed by TCP keepalives on both sides (set on the connection), so
a cut-off leader's lock is freed within about half a minute. The leader checks its connection before each
poll; if it broke, it is no longer the leader and competes again like any follower.

A frozen leader (SIGSTOP, a paused VM or container) keeps its session: its kernel still answers keepalives.
So the leader also beats on its election connection every `beat_seconds` from a thread of its own, and a
follower that finds the lock held by a session idle for longer than `stale_after_seconds` ends that session
(`pg_terminate_backend`) and takes the role. A leader that wakes finds its session gone at its next beat or
check and stands down; a poll it was in the middle of finishes, which costs reads, never a second job.

The poll cursor lives in the database (the kv table), so a new leader goes on from where the last one was.
Polls are idempotent (a job's entry key is unique), so the brief overlap a network cut could cause costs API
calls, never a duplicate signing.

With SQLite there is one process: it is always the poller (`SoleProcess`).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from connector.store.store import application_name, lock_key

log = logging.getLogger(__name__)

# libpq's client-side keepalives: a dead server or network is noticed in idle + interval x count seconds.
CLIENT_KEEPALIVES: dict[str, Any] = {
    "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}
# The server's side of the same, for this session only: the lock of a client cut off is freed as soon.
SERVER_KEEPALIVES = ("SET tcp_keepalives_idle = 10", "SET tcp_keepalives_interval = 5",
                     "SET tcp_keepalives_count = 3")
BEAT_SECONDS = 2.0
STALE_AFTER_SECONDS = 10.0
# The session holding the role's lock: its name, and how long it has been idle (None while it runs a query).
_HOLDER = text(
    "SELECT a.pid, a.application_name, "
    "CASE WHEN a.state = 'idle' THEN EXTRACT(EPOCH FROM now() - a.state_change) END "
    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = :key AND l.objsubid = 1 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")


class Leadership(Protocol):
    def check(self) -> bool:
        """Whether this process is the poller now; a follower tries to become it."""

    def resign(self) -> None:
        """Give the role up at once (a stopping replica), and stop competing."""

    @property
    def is_leader(self) -> bool:
        """The outcome of the last check, without asking the database."""


class SoleProcess:
    """SQLite: one process, always the poller."""

    is_leader = True

    def check(self) -> bool:
        return True

    def resign(self) -> None:
        pass


def dedicated_engine(url: str):
    """An engine that opens connections only when asked, kept outside the store's pool (one at a time)."""
    return create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
                         connect_args={"application_name": application_name(), "connect_timeout": 10,
                                       **CLIENT_KEEPALIVES})


class AdvisoryLockLeadership:
    """PostgreSQL: the poller is the replica holding a session advisory lock on a connection of its own."""

    def __init__(self, url: str, *, role: str = "poller", beat_seconds: float = BEAT_SECONDS,
                 stale_after_seconds: float = STALE_AFTER_SECONDS):
        self.role = role
        self.key = lock_key(role)
        self.beat_seconds = beat_seconds
        self.stale_after_seconds = stale_after_seconds
        self._engine = dedicated_engine(url)
        self._connection: Connection | None = None
        self._held = False
        self._resigned = False
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._beater: threading.Thread | None = None

    @property
    def is_leader(self) -> bool:
        return self._held

    def check(self) -> bool:
        with self._lock:
            if self._resigned:
                return False
            try:
                if self._connection is None:
                    self._connection = self._engine.connect()
                    for statement in SERVER_KEEPALIVES:
                        self._connection.execute(text(statement))
                if self._held:
                    self._connection.execute(text("SELECT 1"))  # the session lives: the lock is still ours
                elif self._try_lock(self._connection) or self._take_from_frozen_holder(self._connection):
                    self._held = True
                    log.info("this replica is now the %s (the others stand by)", self.role)
                    self._start_beating()
            except Exception as exc:  # noqa: BLE001 - whatever broke, the lock cannot be counted on
                self._lost(exc)
            return self._held

    def _try_lock(self, connection: Connection) -> bool:
        return bool(connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}))

    def _take_from_frozen_holder(self, connection: Connection) -> bool:
        """End the holder's session if it has been idle past `stale_after_seconds` (a frozen leader's beats
        stopped), then take the lock once the server has let it go."""
        holder = connection.execute(_HOLDER, {"key": self.key}).first()
        if holder is None or holder[2] is None or float(holder[2]) <= self.stale_after_seconds:
            return False
        pid, name, quiet = holder
        log.warning("the %s (%s) has not been heard from for %.0f s; ending its session and taking over",
                    self.role, name, float(quiet))
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        deadline = time.monotonic() + 2.0  # the server only signals the backend; its locks go as it exits
        while time.monotonic() < deadline:
            if self._try_lock(connection):
                return True
            time.sleep(0.05)
        return False

    def _start_beating(self) -> None:
        if self._beater is None or not self._beater.is_alive():
            self._beater = threading.Thread(target=self._beat_loop, name=f"{self.role}-beat", daemon=True)
            self._beater.start()

    def _beat_loop(self) -> None:
        while not self._stopping.wait(self.beat_seconds):
            with self._lock:
                if not self._held or self._connection is None:
                    return
                try:
                    self._connection.execute(text("SELECT 1"))
                except Exception as exc:  # noqa: BLE001 - whatever broke, the lock cannot be counted on
                    self._lost(exc)
                    return

    def _lost(self, exc: Exception) -> None:
        if self._held:
            log.warning("this replica is no longer the %s: its database session failed (%s)", self.role,
                        type(exc).__name__)
        else:
            log.debug("could not ask for the %s role: %s", self.role, exc)
        self._held = False
        self._drop()

    def resign(self) -> None:
        self._stopping.set()
        with self._lock:
            self._resigned = True
            if self._held and self._connection is not None:
                try:
                    self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                    log.info("this replica handed over the %s role", self.role)
                except Exception as exc:  # noqa: BLE001 - closing the session frees it all the same
                    log.debug("unlock failed (%s); closing the session frees the lock", exc)
            self._held = False
            self._drop()
            self._engine.dispose()

    def _drop(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception as exc:  # noqa: BLE001 - a broken connection may fail to close; it is gone either way
                log.debug("closing the election connection failed: %s", exc)
            self._connection = None


def leadership_for(url: str, *, role: str = "poller") -> Leadership:
    if url.startswith("postgresql"):
        return AdvisoryLockLeadership(url, role=role)
    return SoleProcess()


def current_leader(connection: Connection, role: str = "poller") -> str | None:
    """The application name of the process holding `role` (for `status`), on PostgreSQL; None if nobody does."""
    holder = connection.execute(_HOLDER, {"key": lock_key(role)}).first()
    return holder[1] if holder else None
