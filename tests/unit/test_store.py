"""The state store's promises, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connector.store import JobState, NewEvent, RequestState, Store


def _job(store, key="r:006:1"):
    return store.create_job(entry_key=key, rule_id="r", rule={"id": "r"}, provider="signrequest",
                            opportunity_id="006000000000001AAA", opportunity={"id": "006000000000001AAA"})


def test_one_job_per_entry_key(store):
    assert _job(store) is not None
    assert _job(store) is None
    assert len(store.list_jobs()) == 1


def test_claim_leases_a_job_to_one_worker_until_released(store):
    job = _job(store)
    assert [j.id for j in store.claim_due_jobs("worker-a")] == [job.id]
    assert store.claim_due_jobs("worker-b") == []
    store.save_job(job, release=True)
    assert [j.id for j in store.claim_due_jobs("worker-b")] == [job.id]


def test_terminal_and_future_jobs_are_not_claimed(store):
    done, later = _job(store, "a"), _job(store, "b")
    done.state = JobState.DONE
    store.save_job(done)
    later.next_run_at = datetime.now(UTC) + timedelta(hours=1)
    store.save_job(later)
    assert store.claim_due_jobs("w") == []


def test_job_fields_round_trip(store):
    job = _job(store)
    job.state, job.request_id, job.request = JobState.AWAITING, "req-1", RequestState(titles=("Q",))
    job.sent_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    store.save_job(job)
    again = store.get_job(job.id)
    assert (again.state, again.request, again.sent_at) == (JobState.AWAITING, RequestState(titles=("Q",)), job.sent_at)
    assert store.find_job_by_request("signrequest", "req-1").id == job.id


def test_events_are_deduplicated_and_marked(store):
    event = NewEvent(provider="p", event_id="e1", request_id="r", external_id=None, kind="signed")
    assert store.record_events([event]) == [True]
    assert store.record_events([event]) == [False]
    [row] = store.unprocessed_events()
    store.settle_events({}, [row.id])
    assert store.unprocessed_events() == []
    assert store.count_events() == {"orphan": 1}


def test_values_upsert(store):
    store.set_value("poll_cursor", "a")
    store.set_value("poll_cursor", "b")
    assert store.get_value("poll_cursor") == "b"


def test_concurrent_claimers_never_share_a_job(store_url):
    """Two replicas claiming at once each get distinct jobs (SKIP LOCKED on PostgreSQL)."""
    import threading

    stores = [Store(store_url) for _ in range(2)]
    stores[0].migrate()
    for n in range(40):
        _job(stores[0], f"r:006:{n}")
    claimed: list[list[str]] = [[], []]

    def claim(index: int) -> None:
        while batch := stores[index].claim_due_jobs(f"worker-{index}", limit=3):
            claimed[index].extend(j.id for j in batch)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed[0]) + len(claimed[1]) == 40
    assert not set(claimed[0]) & set(claimed[1])
    for s in stores:
        s.close()
