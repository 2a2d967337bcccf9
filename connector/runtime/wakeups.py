"""Wake-ups between replicas: PostgreSQL LISTEN/NOTIFY.

A callback reaches whichever replica the load balancer picks, and the job it concerns may be run by any
replica; a job the poller creates, likewise. The transaction that records callbacks or creates jobs also sends
a notification on `CHANNEL` (delivered by PostgreSQL when it commits, so whoever hears it sees the rows).
Every replica listens on a connection of its own and, on a notification, wakes its worker pool: the pool
matches new events to jobs and claims what is due at once, instead of at its next idle tick. If the listening
connection fails, the replica reconnects (and wakes its pool once, for what it may have missed); meanwhile the
periodic dispatch (every half second) and claim (every CONNECTOR_WORK_INTERVAL_SECONDS) go on as before.

SQLite has one process: the webhook server wakes the pool directly, as it always did.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.engine import make_url

from connector.runtime.leader import CLIENT_KEEPALIVES
from connector.store.store import WAKE_CHANNEL, application_name

log = logging.getLogger(__name__)


def connect_kwargs(url: str) -> dict:
    """psycopg (3) keyword arguments for a SQLAlchemy PostgreSQL URL, whatever its driver."""
    parsed = make_url(url)
    kwargs = {k: v for k, v in parsed.translate_connect_args(username="user", database="dbname").items()
              if v is not None}
    kwargs.update({k: v if isinstance(v, str) else v[-1] for k, v in parsed.query.items()})
    return kwargs


class WakeListener:
    def __init__(self, url: str, on_wake: Callable[[], None], *, channel: str = WAKE_CHANNEL,
                 poll_seconds: float = 0.5, reconnect_seconds: float = 2.0):
        self.url, self.on_wake, self.channel = url, on_wake, channel
        self.poll_seconds, self.reconnect_seconds = poll_seconds, reconnect_seconds
        self.notifications = 0
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()

    def start(self) -> None:
        try:
            import psycopg  # noqa: F401 - the 'postgres' extra
        except ImportError:
            log.warning("psycopg is not installed: replicas are not woken by each other's callbacks and new jobs "
                        "(they find them at the periodic dispatch). pip install 'esign-connector[postgres]'")
            return
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run, name="wake-listener", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        import psycopg

        failed_before = False
        while not self._stopped.is_set():
            try:
                with psycopg.connect(**connect_kwargs(self.url), autocommit=True, connect_timeout=10,
                                     application_name=application_name(), **CLIENT_KEEPALIVES) as connection:
                    connection.execute(f"LISTEN {self.channel}")
                    self.listening.set()
                    if failed_before:
                        log.info("listening for other replicas' wake-ups again")
                        self._wake()  # whatever was notified while nobody here listened
                    failed_before = False
                    while not self._stopped.is_set():
                        for _ in connection.notifies(timeout=self.poll_seconds):
                            self.notifications += 1
                            self._wake()
            except Exception as exc:  # noqa: BLE001 - the periodic dispatch covers the gap; try again
                self.listening.clear()
                if not failed_before:
                    log.warning("lost the wake-up channel from other replicas (%s: %s); retrying every %.0fs",
                                type(exc).__name__, exc, self.reconnect_seconds)
                failed_before = True
                self._stopped.wait(self.reconnect_seconds)
        self.listening.clear()

    def _wake(self) -> None:
        try:
            self.on_wake()
        except Exception:  # noqa: BLE001 - waking early is an optimisation
            log.exception("could not wake the worker pool")
