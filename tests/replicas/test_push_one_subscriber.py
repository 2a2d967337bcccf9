"""Replicas on one PostgreSQL database with push triggers: only the poller subscribes to change events; when
it stops, the replica that takes the role over subscribes from the replay id the first one stored."""

from __future__ import annotations

import time

from connector.runtime.servers import free_port
from sandbox.runner import start_daemon, start_simulators
from tests.e2e.deals import make_deal


def wait_for(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_only_the_poller_subscribes_and_its_successor_resumes(tmp_path, fresh_database):
    sandbox = start_simulators(tmp_path, webhook_port=free_port(), database_url=fresh_database(), seed=False,
                               salesforce_cdc_enabled=True)
    first, second = start_daemon(sandbox), start_daemon(sandbox)
    sim = sandbox.salesforce
    early, late = make_deal(sim, "Replica Early"), make_deal(sim, "Replica Late")

    def jobs() -> set[str]:
        return {job.opportunity_id for job in first.store.list_jobs()}

    try:
        first.poll()
        second.poll()
        first.push.start()
        second.push.start()
        wait_for(lambda: first.push.healthy)
        time.sleep(0.3)
        assert sim.pubsub.subscribes == 1
        assert second.push.report()["state"] == "standby"

        sim.set_stage(early, "Contract Sent")
        wait_for(lambda: jobs() == {early})

        first.stop()  # hands the poller role over
        second.poll()
        wait_for(lambda: second.push.healthy)
        assert sim.pubsub.subscribes == 2
        sim.set_stage(late, "Contract Sent")
        wait_for(lambda: jobs() == {early, late})
        assert len(first.store.list_jobs()) == 2
    finally:
        first.stop()
        second.stop()
        sandbox.stop()
