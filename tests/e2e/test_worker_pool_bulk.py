"""A bulk stage change through the running daemon (worker pool, rate limit) over HTTP against the
simulators: every request is created once, every signing comes back once."""

from __future__ import annotations

import time
from collections import Counter

from benchmarks.deals import SIGNED_SUFFIXES, completed_opportunities, make_deals, sign_waiting, trigger
from benchmarks.world import MAPPING
from connector.runtime.servers import free_port
from connector.store import JobState
from sandbox.runner import start_daemon, start_simulators

DEALS = 24


def _wait_for(condition, timeout: float = 90.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_a_bulk_of_deals_is_sent_and_completed_once_each(tmp_path):
    mapping = tmp_path / "rules.yaml"
    mapping.write_text(MAPPING)
    sandbox = start_simulators(tmp_path, webhook_port=free_port(), mappings_path=mapping, workers=8,
                               signrequest_max_requests_per_second=40, poll_interval_seconds=0.5,
                               work_interval_seconds=0.2, status_check_minutes=0.05)
    daemon = start_daemon(sandbox)
    try:
        opportunities = make_deals(sandbox.salesforce, DEALS)
        daemon.start()
        trigger(sandbox.salesforce, opportunities)
        assert _wait_for(lambda: len(sandbox.signrequest.awaiting_signature()) == DEALS)
        sign_waiting(sandbox.signrequest)
        assert _wait_for(lambda: completed_opportunities(sandbox.salesforce) == set(opportunities))
        assert _wait_for(lambda: daemon.store.count_jobs_by_state() == {JobState.DONE.value: DEALS})
    finally:
        daemon.stop()
        sandbox.stop()

    documents = sandbox.signrequest.documents()
    assert sandbox.signrequest.create_calls == len(documents) == DEALS
    assert len({d["external_id"] for d in documents}) == DEALS
    files = Counter((v["FirstPublishLocationId"], suffix) for v in sandbox.salesforce.records("ContentVersion")
                    for suffix in SIGNED_SUFFIXES if (v.get("Title") or "").endswith(suffix))
    assert set(files.values()) == {1} and len(files) == 2 * DEALS
