"""Leases are renewed by the worker pool's heartbeat thread, not between steps: a call that takes many leases
(a slow provider, a long wait for a rate-limiter turn) never lets another worker take the job while the process
holding it lives, and the create still leaves once its turn comes. Real time, with a lease of 0.6 s."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from config.settings import Settings
from connector.runtime.worker_pool import WorkerPool
from connector.store import JobState
from tests.fakes import FakeCRM, FakeProvider
from tests.unit.conftest import World

LEASE = 0.6


def test_calls_many_leases_long_keep_the_job_while_the_process_lives(tmp_path):
    settings = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/state.db",
                        public_base_url="https://connector.example", job_lease_seconds=LEASE)
    world = World(FakeCRM(), FakeProvider(name="signrequest"), lambda: datetime.now(UTC), settings.database_url,
                  settings)
    world.add_opportunity()
    daemon = world.daemon()
    daemon.poll()
    taken: list = []

    def others_try_to_claim(seconds: float) -> None:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            taken.extend(daemon.store.claim_due_jobs("another-replica", lease_seconds=60))
            time.sleep(0.05)

    def waits_for_its_turn() -> None:  # before the create leaves: 4 leases behind a rate limiter, say
        world.provider.before_create = None
        others_try_to_claim(4 * LEASE)

    def slow_reply() -> None:  # the create left; the provider answers 4 leases later
        world.provider.create_in_flight = None
        others_try_to_claim(4 * LEASE)

    def claim(limit: int) -> list:  # this process's own claimer would also take a job whose lease ran out
        jobs = daemon.engine.claim(limit)
        claims.extend(jobs)
        return jobs

    claims: list = []
    world.provider.before_create, world.provider.create_in_flight = waits_for_its_turn, slow_reply
    pool = WorkerPool(claim=claim, advance=lambda job: daemon.engine.advance(job, just_claimed=True),
                      dispatch=lambda: 0, workers=2, idle_seconds=0.05, renew_leases=daemon.engine.renew_leases,
                      renew_seconds=LEASE / 3)
    pool.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and daemon.store.list_jobs()[0].state != JobState.AWAITING:
            time.sleep(0.05)
    finally:
        pool.stop(timeout=10)
        daemon.store.close()
    [job] = daemon.store.list_jobs()
    assert taken == [] and len(claims) == 1
    assert world.provider.create_calls == 1
    assert job.state == JobState.AWAITING and job.attempts == 0
