"""The worker pool advances claimed jobs at once, claims only for free workers, and keeps dispatching."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest

from connector.runtime.worker_pool import WorkerPool

WAIT = 10.0  # generous upper bound for a condition that holds almost at once; never a speed assertion


@dataclass
class Queue:
    """Due jobs behind a claim function that records how many it was asked for."""

    jobs: list[str]
    asked: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self, limit: int) -> list[str]:
        with self.lock:
            self.asked.append(limit)
            taken, self.jobs = self.jobs[:limit], self.jobs[limit:]
            return taken


@pytest.fixture
def pools():
    started = []

    def make(**kwargs) -> WorkerPool:
        pool = WorkerPool(**{"dispatch": lambda: 0, "idle_seconds": 0.05, **kwargs})
        pool.start()
        started.append(pool)
        return pool

    yield make
    for pool in started:
        pool.stop()


def test_jobs_are_advanced_concurrently(pools):
    # Each advance blocks until eight are in flight at once: sequential work would never get past the first.
    in_flight = threading.Barrier(8, timeout=WAIT)
    done = []

    def advance(job):
        in_flight.wait()
        done.append(job)

    pools(claim=Queue([f"job-{n}" for n in range(16)]).claim, advance=advance, workers=8)
    assert _eventually(lambda: len(done) == 16)
    assert sorted(done) == sorted(f"job-{n}" for n in range(16))


def test_claims_no_more_than_the_free_workers_and_more_as_they_free_up(pools):
    queue, release, started = Queue([f"job-{n}" for n in range(5)]), threading.Event(), []

    def advance(job):
        started.append(job)
        release.wait(WAIT)

    pool = pools(claim=queue.claim, advance=advance, workers=2)
    assert _eventually(lambda: len(started) == 2)
    assert queue.jobs == [f"job-{n}" for n in range(2, 5)]  # the other three wait, unclaimed
    assert max(queue.asked) == 2
    release.set()
    assert _eventually(lambda: len(started) == 5 and pool.busy == 0)
    assert max(queue.asked) <= 2


def test_wake_dispatches_events_and_claims_at_once(pools):
    dispatched, queue = threading.Event(), Queue([])
    advanced = []

    def dispatch():
        if queue.jobs == [] and not advanced and dispatched.is_set():
            queue.jobs.append("woken-job")  # the event made a job due
        dispatched.set()
        return 1

    # Ticks far apart: only wake() can make this test finish in time.
    pool = pools(claim=queue.claim, advance=advanced.append, workers=2, dispatch=dispatch,
                 idle_seconds=3600, dispatch_seconds=3600)
    assert dispatched.wait(WAIT)  # the first dispatch, at start
    pool.wake()
    assert _eventually(lambda: advanced == ["woken-job"])


def test_a_failing_job_does_not_stop_the_pool(pools):
    advanced = []

    def advance(job):
        if job == "bad":
            raise RuntimeError("boom")
        advanced.append(job)

    pools(claim=Queue(["bad", "good"]).claim, advance=advance, workers=1)
    assert _eventually(lambda: advanced == ["good"])


def test_stop_lets_jobs_in_flight_finish(pools):
    finished, release = [], threading.Event()

    def advance(job):
        release.wait(WAIT)
        finished.append(job)

    pool = pools(claim=Queue(["a"]).claim, advance=advance, workers=1)
    assert _eventually(lambda: pool.busy == 1)
    threading.Timer(0.1, release.set).start()
    pool.stop()
    assert finished == ["a"]


def test_stop_hands_back_jobs_claimed_but_not_started(pools):
    # A claim that returns more jobs than workers are free: the extra ones wait for a worker, and a stopping
    # pool must hand them back (their leases released for another replica) instead of starting them.
    started, release, handed_back = [], threading.Event(), []

    def claim(limit):
        return ["a", "b", "c"] if not started else []

    def advance(job):
        started.append(job)
        release.wait(WAIT)

    pool = pools(claim=claim, advance=advance, workers=1)
    assert _eventually(lambda: started == ["a"])
    threading.Timer(0.2, release.set).start()
    assert pool.stop(release=handed_back.extend) is True
    assert started == ["a"] and handed_back == ["b", "c"] and pool.busy == 0


def test_stop_waits_for_a_step_in_flight_at_most_the_timeout(pools):
    release = threading.Event()
    pool = pools(claim=Queue(["slow"]).claim, advance=lambda job: release.wait(WAIT), workers=1)
    assert _eventually(lambda: pool.busy == 1)
    started = time.monotonic()
    assert pool.stop(timeout=0.3) is False  # it was still running: the caller decides what to do
    assert 0.25 <= time.monotonic() - started < 2
    release.set()


def _eventually(condition, timeout: float = WAIT) -> bool:
    done = threading.Event()
    deadline = threading.Timer(timeout, done.set)
    deadline.start()
    try:
        while not done.is_set():
            if condition():
                return True
            done.wait(0.01)
        return condition()
    finally:
        deadline.cancel()
