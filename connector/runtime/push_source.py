"""The push trigger source as a service: one thread holding the change feed subscription, on the poller only.

It resumes after the replay id stored in the database, hands each batch to `triggers.push.ChangeIntake`
(which stores the new position only after the batch's jobs are committed), and reconnects with backoff when
the stream drops. A position Salesforce no longer retains (the daemon was off longer than events are kept)
is forgotten: the subscription starts again at the tip, and a catch-up poll runs first and again once the new
stream answers, so whatever changed in between is found by the poll, and everything after by the feed.

Its state (streaming, reconnecting, off), published in the database for `status`, decides the poll interval:
while change events flow the poll is only a reconciliation sweep.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime

from connector.ports.change_feed import ChangeFeed, ChangeFeedError, ReplayUnavailable
from connector.ports.errors import ErrorKind
from connector.ports.retry import RetryPolicy
from connector.store import Store
from connector.triggers.push import ChangeIntake, forget_position, stored_position

log = logging.getLogger(__name__)
STATE_KEY = "push_state"
# Reconnecting: 1 s, 2 s, 4 s ... at most a minute apart, for as long as it takes.
RECONNECT = RetryPolicy(attempts=1_000_000, base_delay=1.0, cap=60.0, jitter=0.3)
# A subscription asked for on an open connection and not refused for this long counts as up even before its
# first event (Salesforce sends the first keepalive only within 270 s).
SETTLE_SECONDS = 2.0


class PushSource:
    def __init__(self, *, feed: ChangeFeed, intake: ChangeIntake, store: Store, catch_up: Callable[[], object],
                 may_run: Callable[[], bool], on_jobs: Callable[[], None], clock: Callable[[], datetime],
                 retry: RetryPolicy = RECONNECT, idle_seconds: float = 1.0):
        self.feed = feed
        self.intake = intake
        self.store = store
        self.catch_up = catch_up
        self.may_run = may_run
        self.on_jobs = on_jobs
        self.clock = clock
        self.retry = retry
        self.idle_seconds = idle_seconds
        self.state = "off"
        self.last_error: str | None = None
        self.events = 0
        self._opened_at: float | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._catch_up_pending = False

    # --- what the daemon asks -----------------------------------------------------------------

    @property
    def healthy(self) -> bool:
        """Whether change events flow: the stream is open and has answered, or stood for SETTLE_SECONDS."""
        opened = self._opened_at
        return self.state == "streaming" and opened is not None and (
            opened <= 0 or time.monotonic() - opened >= SETTLE_SECONDS)

    def report(self) -> dict:
        state = "connecting" if self.state == "streaming" and not self.healthy else self.state
        return {"state": state, "events": self.events,
                "last_error": self.last_error}

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="push-source", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stopping.set()
        self.feed.close()
        if self._thread:
            self._thread.join(timeout)
            self._thread = None
        self._set("off", None)

    def interrupt(self) -> None:
        """End the subscription under way (this replica is no longer the poller); it is taken up again when
        `may_run` says so."""
        if self.state != "off":
            self.feed.close()

    # --- the loop ------------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            if not self.may_run():
                self._set("standby", None)
                self._stopping.wait(self.idle_seconds)
                continue
            try:
                self.run_stream()
                failures = 0
            except ReplayUnavailable as exc:
                log.warning("%s; polling to catch up, then subscribing from now on", exc.message)
                forget_position(self.store)
                self._catch_up_pending = True
                self._poll_to_catch_up()
                failures = 0
                continue
            except ChangeFeedError as exc:
                # A stream that was up and ended (a session that expired, a dropped connection) is taken up
                # again at once; refusals in a row back off, configuration ones (auth, topic) ten times longer.
                failures = 0 if self.healthy else failures + 1
                self._failed(exc.message, exc.kind if failures else ErrorKind.TRANSIENT, failures)
            except Exception as exc:  # noqa: BLE001 - whatever broke, the stream is retried after a backoff
                failures += 1
                log.exception("the change event stream failed")
                self._failed(f"{type(exc).__name__}: {exc}", ErrorKind.TRANSIENT, failures)
            self._opened_at = None

    def run_stream(self) -> None:
        """One subscription, from the stored position, until it ends; each batch taken and committed in turn."""
        position = stored_position(self.store)
        self._opened_at = None
        self._set("streaming", None)
        for batch in self.feed.read(position):
            if not batch.changes and not batch.replay_id:
                self._opened_at = time.monotonic()  # connected and asked: up if not refused at once
                continue
            self._opened_at = 0  # it answered: up at once
            if self._catch_up_pending:
                self._poll_to_catch_up()  # the stream is open now: the poll covers everything before it
                self._catch_up_pending = False
            report = self.intake.take(batch)
            self.events += report.events
            if report.created:
                self.on_jobs()
            if self._stopping.is_set() or not self.may_run():
                self.feed.close()
                return
        if not self._stopping.is_set() and self.may_run():
            raise ChangeFeedError("the change event stream ended")

    def _poll_to_catch_up(self) -> None:
        try:
            self.catch_up()
            self.on_jobs()
        except Exception:  # noqa: BLE001 - the reconciliation sweep tries again at its interval
            log.exception("the catch-up poll failed; the next poll makes up for it")

    def _failed(self, message: str, kind: ErrorKind, failures: int) -> None:
        wait = self.retry.delay(max(failures, 1)) * (10 if kind is ErrorKind.CONFIG else 1)
        log.warning("change events: %s; polling at the normal interval meanwhile, reconnecting in %.0fs",
                    message, wait)
        self._set("reconnecting", message)
        self._stopping.wait(wait)

    def _set(self, state: str, error: str | None) -> None:
        changed = state != self.state
        self.state, self.last_error = state, error
        if changed:
            if state == "streaming":
                log.info("change events: subscribing")
            try:
                self.store.set_value(STATE_KEY, json.dumps({"state": state, "last_error": error,
                                                            "at": self.clock().isoformat()}))
            except Exception as exc:  # noqa: BLE001 - `status` shows an older state; nothing else depends on it
                log.debug("could not record the push source's state: %s", exc)


def describe(stored: str | None) -> str:
    """The `status` line for the push source, from what it last published."""
    if not stored:
        return "push (change events): not configured or never started"
    state = json.loads(stored)
    line = f"push (change events): {state.get('state')} since {state.get('at')}"
    return line + (f"; last error: {state['last_error']}" if state.get("last_error") else "")
