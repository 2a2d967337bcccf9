"""Chaos with push triggers: the change event stream dropped and the daemon SIGKILLed at random while deals
move into the trigger stage. Every stage entry gets exactly one job and one provider request.

The daemon is `run_connector.py run` with Change Data Capture on and a poll interval far longer than the run,
so stage entries reach it by change events, by the catch-up a restart makes, or not at all.
`CONNECTOR_CHAOS_PUSH_DEALS` and `CONNECTOR_CHAOS_PUSH_KILLS` size it (defaults 30 and 5).
"""

from __future__ import annotations

import os
import random
import re
import sqlite3
import time
from collections import Counter

import requests

from connector.runtime.servers import free_port
from sandbox.runner import settings_env, start_simulators
from tests.chaos.processes import DaemonProcess
from tests.e2e.deals import make_deal

DEALS = int(os.environ.get("CONNECTOR_CHAOS_PUSH_DEALS", "30"))
KILLS = int(os.environ.get("CONNECTOR_CHAOS_PUSH_KILLS", "5"))


def streaming(metrics: str, timeout: float = 30.0) -> None:
    """Wait until the daemon answers and its change event stream is up (/healthz tells only liveness)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if 'connector_push_state{state="streaming"} 1.0' in requests.get(metrics, timeout=1).text:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError("the daemon's change event stream did not come up")


def test_dropped_streams_and_sigkills_never_duplicate_or_miss_a_stage_entry(tmp_path):
    rng = random.Random(f"chaos-push:{DEALS}:{KILLS}")
    sandbox = start_simulators(
        tmp_path, webhook_port=free_port(), seed=False, salesforce_cdc_enabled=True, poll_interval_seconds=300,
        poll_sweep_interval_seconds=600, work_interval_seconds=0.2, job_lease_seconds=2, log_level="INFO",
        mappings_reload_seconds=60, provider_timeout_seconds=2, salesforce_timeout_seconds=2)
    deals = [make_deal(sandbox.salesforce, f"Push Chaos {n:03d}") for n in range(DEALS)]
    env = {**os.environ, **settings_env(sandbox.settings), "REQUESTS_CA_BUNDLE": str(sandbox.ca_file),
           "PYTHONUNBUFFERED": "1"}
    daemon = DaemonProcess(env, tmp_path / "daemon.log")
    kill_at = set(rng.sample(range(1, DEALS), min(KILLS, DEALS - 1)))
    metrics = f"http://127.0.0.1:{sandbox.settings.webhook_port}/metrics"
    try:
        daemon.start()
        streaming(metrics)
        for n, deal in enumerate(deals):
            if rng.random() < 0.1:
                sandbox.salesforce.bus.drop_streams()
            if rng.random() < 0.2:
                sandbox.salesforce.bus.duplicate_next()
            if n in kill_at:
                daemon.kill()  # a batch may be under way: its replay id is not stored, so it is read again
                sandbox.salesforce.set_stage(deal, "Contract Sent")  # moved while the daemon is down
                daemon.start()
                streaming(metrics)
            else:
                sandbox.salesforce.set_stage(deal, "Contract Sent")
            time.sleep(rng.uniform(0.05, 0.4))
        deadline = time.monotonic() + 60
        while sandbox.signrequest.create_calls < DEALS and time.monotonic() < deadline:
            time.sleep(0.2)
        elapsed = time.monotonic() - (deadline - 60)
        time.sleep(1)  # anything late (a duplicate) would show now
    finally:
        daemon.stop()
        sandbox.stop()

    log = (tmp_path / "daemon.log").read_bytes().decode(errors="replace")
    external_ids = Counter(d["external_id"] for d in sandbox.signrequest.documents())
    jobs = Counter(row[0] for row in sqlite3.connect(tmp_path / "connector.db").execute(
        "SELECT opportunity_id FROM jobs"))
    assert set(jobs) == set(deals), f"missed: {set(deals) - set(jobs)}; log tail:\n{log[-3000:]}"
    assert set(jobs.values()) == {1}
    print(f"\npush chaos: {DEALS} deals, {len(kill_at)} kills, all requests {elapsed:.1f}s after the last move")
    assert sandbox.signrequest.create_calls == DEALS and set(external_ids.values()) == {1}
    assert re.search(r"change events: \d+ opportunities changed stage", log)  # push carried some of them
