"""Store.count_jobs_by_kind: what /metrics shows of the jobs, on SQLite and PostgreSQL."""

from __future__ import annotations

from connector.store import JobState


def _job(store, key: str, provider: str):
    return store.create_job(entry_key=key, rule_id="r", rule={}, provider=provider, opportunity_id="006" + key,
                            opportunity={})


def test_jobs_are_counted_by_state_outcome_provider_and_parked_step(store):
    _job(store, "a", "signrequest")
    done = _job(store, "b", "signrequest")
    done.state, done.outcome = JobState.DONE, "completed"
    store.save_job(done)
    for key in ("c", "d"):
        parked = _job(store, key, "onespan")
        parked.state, parked.parked_from = JobState.PARKED, "completing"
        store.save_job(parked)
    assert store.count_jobs_by_kind() == {
        ("new", "", "signrequest", ""): 1,
        ("done", "completed", "signrequest", ""): 1,
        ("parked", "", "onespan", "completing"): 2,
    }
