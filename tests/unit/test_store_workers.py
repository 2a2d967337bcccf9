"""What the store promises many worker threads: leases guard saves, wake-ups survive, bulk creation."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from connector.store import JobState, LeaseLost, NewEvent, Store


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(store_url, clock):
    store = Store(store_url, clock=clock, pool_size=8)
    store.migrate()
    yield store
    store.close()


def _entry(n: int) -> dict:
    return dict(entry_key=f"r:006:{n}", rule_id="r", rule={"id": "r"}, provider="signrequest",
                opportunity_id=f"006{n:015d}", opportunity={"id": f"006{n:015d}"})


def test_a_save_after_the_lease_was_taken_is_refused(store, clock):
    store.create_job(**_entry(1))
    [stale] = store.claim_due_jobs("slow", lease_seconds=1)
    clock.now += timedelta(seconds=5)
    [taken] = store.claim_due_jobs("other", lease_seconds=300)
    stale.state = JobState.SENT
    with pytest.raises(LeaseLost):
        store.save_job(stale)
    assert store.get_job(stale.id).state == JobState.NEW
    assert store.get_job(stale.id).lease_token == taken.lease_token


def test_saves_renew_the_lease_and_release_gives_it_up(store, clock):
    store.create_job(**_entry(1))
    [job] = store.claim_due_jobs("w", lease_seconds=10)
    clock.now += timedelta(seconds=8)
    store.save_job(job, lease_seconds=10)
    clock.now += timedelta(seconds=8)  # past the first lease, within the renewed one
    assert store.claim_due_jobs("other") == []
    store.save_job(job, release=True)
    assert [j.id for j in store.claim_due_jobs("other")] == [job.id]


def test_a_wake_up_while_a_worker_holds_the_job_is_not_overwritten(store, clock):
    created = store.create_job(**_entry(1))
    [job] = store.claim_due_jobs("w")
    clock.now += timedelta(seconds=1)
    store.wake_job(created.id)  # a callback came in while the worker was writing "Sent"
    job.state, job.next_run_at = JobState.AWAITING, clock.now + timedelta(minutes=30)
    store.save_job(job, release=True)
    [again] = store.claim_due_jobs("w")
    assert again.id == job.id and again.state == JobState.AWAITING


@pytest.mark.parametrize("interval", [timedelta(0), timedelta(seconds=60)])
def test_a_callback_matched_while_a_worker_holds_its_due_job_wakes_it_after_the_step(store, clock, interval):
    """The job was already due when claimed (the create just done, "Sent" being written), so its due time is
    in the past: the event's wake must still show at the save, or the job sleeps until its safety-net check."""
    created = store.create_job(**_entry(1))
    created.request_id = "req-1"
    store.save_job(created)
    [job] = store.claim_due_jobs("w")
    clock.now += timedelta(seconds=1)
    store.record_events([NewEvent(provider="signrequest", event_id="e1", request_id="req-1", external_id=None,
                                  kind="signed")])
    [event] = store.unprocessed_events()
    store.settle_events({event.id: job.id}, [], wake_interval=interval)
    job.state, job.next_run_at = JobState.AWAITING, clock.now + timedelta(minutes=30)
    store.save_job(job, release=True)
    [again] = store.claim_due_jobs("w")
    assert again.id == job.id and again.state == JobState.AWAITING


def test_a_workers_own_rescheduling_is_kept(store, clock):
    store.create_job(**_entry(1))
    [job] = store.claim_due_jobs("w")
    job.next_run_at = clock.now + timedelta(minutes=30)
    store.save_job(job, lease_seconds=300)
    job.next_run_at = clock.now + timedelta(minutes=20)
    store.save_job(job, release=True)
    assert store.get_job(job.id).next_run_at == clock.now + timedelta(minutes=20)


def test_create_jobs_inserts_a_batch_and_skips_entries_that_have_a_job(store):
    store.create_job(**_entry(2))
    created = store.create_jobs([_entry(n) for n in range(1, 5)])
    assert sorted(j.entry_key for j in created) == ["r:006:1", "r:006:3", "r:006:4"]
    assert all(j.state == JobState.NEW for j in created)
    assert len(store.list_jobs()) == 4


def test_many_threads_saving_at_once_lose_nothing(store, clock):
    for n in range(32):
        store.create_job(**_entry(n))
    jobs = store.claim_due_jobs("w", limit=32)
    errors = []

    def step(job) -> None:
        try:
            for attempt in range(1, 6):
                job.attempts = attempt
                store.save_job(job, lease_seconds=60)
            job.state = JobState.DONE
            store.save_job(job, release=True)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=step, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count_jobs_by_state() == {"done": 32}
    assert all(j.attempts == 5 for j in store.list_jobs())


def test_released_leases_are_claimable_at_once_and_only_the_holders_are_released(store, clock):
    for n in range(3):
        store.create_job(**_entry(n))
    held = store.claim_due_jobs("stopping", limit=2, lease_seconds=300)
    [other] = store.claim_due_jobs("other", lease_seconds=300)
    mine = {job.id: job.lease_token for job in held}
    assert store.release_leases({**mine, other.id: "not-its-token"}) == 2
    assert sorted(j.id for j in store.claim_due_jobs("next", limit=5)) == sorted(mine)
    assert store.get_job(other.id).lease_token == other.lease_token
