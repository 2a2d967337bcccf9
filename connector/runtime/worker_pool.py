"""Advancing many jobs at once: a claimer thread leases due jobs and hands each to a worker thread.

A job spends most of its time waiting on the provider and on Salesforce, so throughput comes from
having many jobs in flight, not from a faster loop. The claimer claims as many due jobs as there are
free workers, and claims again as soon as one frees up, rather than waiting for a whole round. Claiming
is one UPDATE in the store (SKIP LOCKED on PostgreSQL), so several daemons sharing a database split the
work without ever sharing a job.

A heartbeat thread renews the leases of every job this process holds, every `renew_seconds`, so that a
slow call never lets a job pass to another worker while this one still acts on it; if the process dies,
its leases simply run out.

A dispatcher thread matches received events to jobs, at least every `dispatch_seconds` and at once
when `wake()` is called (a callback came in), then wakes the claimer; so a completion never waits
behind a long batch of work, and claiming never waits behind dispatching.

`stop` stops claiming, hands back (`release`) the jobs claimed but not started, so that another replica
takes them at once, and waits for the steps in flight, at most `timeout`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from connector.store import Job

log = logging.getLogger(__name__)


class WorkerPool:
    def __init__(self, *, claim: Callable[[int], list[Job]], advance: Callable[[Job], None],
                 dispatch: Callable[[], object], workers: int, idle_seconds: float = 1.0,
                 dispatch_seconds: float = 0.5, renew_leases: Callable[[], object] | None = None,
                 renew_seconds: float = 10.0):
        self.claim, self.advance, self.dispatch = claim, advance, dispatch
        self.renew_leases, self.renew_seconds = renew_leases, renew_seconds
        self._stopped = threading.Event()
        self.workers = workers
        self.idle_seconds = idle_seconds
        self.dispatch_seconds = dispatch_seconds
        self._changed = threading.Condition()
        self._busy = 0
        self._woken = False
        self._stopping = False
        self._dispatch_wanted = threading.Event()
        self._queued: dict[int, Job] = {}  # submitted, not started yet (by id(): jobs are opaque here)
        self._executor: ThreadPoolExecutor | None = None
        self._threads: list[threading.Thread] = []

    @property
    def busy(self) -> int:
        return self._busy

    def start(self) -> None:
        self._stopping = False
        self._stopped.clear()
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="worker")
        self._threads = [threading.Thread(target=self._claim_loop, name="claimer", daemon=True),
                         threading.Thread(target=self._dispatch_loop, name="dispatcher", daemon=True)]
        if self.renew_leases is not None:
            # Not joined at stop: it keeps renewing while the workers finish their steps.
            threading.Thread(target=self._heartbeat_loop, name="lease-heartbeat", daemon=True).start()
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        """Dispatch events, then claim due jobs, now rather than at the next tick."""
        self._dispatch_wanted.set()

    def _wake_claimer(self) -> None:
        with self._changed:
            self._woken = True
            self._changed.notify_all()

    def stop(self, timeout: float | None = None, release: Callable[[list[Job]], object] | None = None) -> bool:
        """Stop claiming; jobs in flight finish their current step (each step is committed as it ends). Jobs
        claimed but not started are not started: they go to `release`, to give their leases back. Waits for the
        jobs in flight at most `timeout` seconds (None: as long as they take); True when they all finished."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._dispatch_wanted.set()
        for thread in self._threads:
            thread.join()
        self._threads = []
        with self._changed:
            unstarted = list(self._queued.values())
            self._queued.clear()
            self._busy -= len(unstarted)
            self._changed.notify_all()
        if unstarted and release is not None:
            self._guarded("handing back unstarted jobs", release, unstarted)
        finished = True
        if self._executor:
            self._executor.shutdown(wait=False, cancel_futures=True)
            with self._changed:
                finished = self._changed.wait_for(lambda: self._busy <= 0, timeout=timeout)
            if finished:
                self._executor.shutdown(wait=True)
            self._executor = None
        self._stopped.set()
        return finished

    # --- the threads -------------------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        asked = True
        while not self._stopping:
            if self._guarded("dispatching events", self.dispatch) or asked:
                self._wake_claimer()  # the jobs the events woke, or whatever wake() was called for
            asked = self._dispatch_wanted.wait(self.dispatch_seconds)
            self._dispatch_wanted.clear()

    def _heartbeat_loop(self) -> None:
        assert self.renew_leases is not None
        while not self._stopped.wait(self.renew_seconds):
            self._guarded("renewing job leases", self.renew_leases)

    def _claim_loop(self) -> None:
        while True:
            with self._changed:
                if self._stopping:
                    return
                self._woken = False
            free = self.workers - self._busy
            claimed = (self._guarded("claiming jobs", self.claim, free) or []) if free else []
            for job in claimed:
                self._submit(job)
            self._wait(more_due=len(claimed) == free)  # every worker was busy, or all got a job

    def _wait(self, *, more_due: bool) -> None:
        """Until a wake-up, or a worker freeing up while jobs may still be due; with nothing due (or no
        worker free), at most the idle tick, when the jobs whose time has come are claimed."""
        with self._changed:
            if more_due:
                self._changed.wait_for(lambda: self._woken or self._stopping or self._busy < self.workers,
                                       timeout=self.idle_seconds)
            else:
                self._changed.wait_for(lambda: self._woken or self._stopping, timeout=self.idle_seconds)

    def _submit(self, job: Job) -> None:
        assert self._executor is not None
        with self._changed:
            self._busy += 1
            self._queued[id(job)] = job
        self._executor.submit(self._work, job)

    def _work(self, job: Job) -> None:
        with self._changed:
            if self._queued.pop(id(job), None) is None:
                return  # handed back by stop() before a worker got to it
        try:
            self.advance(job)
        except Exception:  # noqa: BLE001 - the lease runs out and another claim retries the job
            log.exception("job %s: advancing failed unexpectedly", job.id)
        finally:
            with self._changed:
                self._busy -= 1
                self._changed.notify_all()

    def _guarded(self, what: str, action: Callable, *args):
        try:
            return action(*args)
        except Exception:  # noqa: BLE001 - the claimer must outlive a database hiccup; it tries again
            log.exception("%s failed; trying again shortly", what)
            time.sleep(min(self.idle_seconds, 1.0))
            return None
