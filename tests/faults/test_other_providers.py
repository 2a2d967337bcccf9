"""OneSpan Sign and Legalsign under faults: the create's answer lost, every callback delivered twice, and
status reads failing now and then. One request at the provider, one set of Files."""

from __future__ import annotations

from collections import Counter

import pytest

from connector.store import JobState
from tests.e2e.deals import make_deal, sign
from tests.faults.conftest import done, the_job

OWNER = "integration@sandbox.example"
PROVIDERS = {
    "onespan": ("Proposal", "POST /api/packages", "GET /api/packages/*", ("dana@example.com", "eli.{slug}@example.com",
                                                                         OWNER)),
    "legalsign": ("Negotiation", "POST /api/v1/document/", "GET /api/v1/document/*",
                  ("dana@example.com", "eli.{slug}@example.com")),
}


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_a_lost_create_answer_duplicated_callbacks_and_flaky_reads_still_make_one_signing(world, provider):
    stage, create, reads, signers = PROVIDERS[provider]
    sim = getattr(world.sandbox, provider)
    sim.sender.retry_delays = (0.05,)
    sim.faults.add_http(create, reset=1.0, times=1)
    sim.faults.add_http(reads, server_error=0.1, throttle=0.1, retry_after=0.1)
    sim.faults.add_webhooks(duplicate=1.0)
    name = f"Stark {provider}"
    opportunity_id = make_deal(world.salesforce, name)
    world.salesforce.set_stage(opportunity_id, stage)

    world.daemon.run_once()
    world.settle(until=lambda: the_job(world).state == JobState.AWAITING, timeout=20)
    for email in signers:
        sign(sim, the_job(world).request_id, email.format(slug=name.lower().replace(" ", "")))
    world.settle(until=lambda: done(world), timeout=20)
    sim.wait_for_deliveries()
    world.settle()

    job = the_job(world)
    assert (job.state, job.outcome) == (JobState.DONE, "completed")
    assert sim.create_calls == 1 and sim.faults.counts()["reset"] == 1 and sim.faults.counts()["duplicate"] >= 1
    record = world.salesforce.get_record("Opportunity", opportunity_id)
    assert (record["Signing_Status__c"], record["Signing_Request_Id__c"]) == ("Completed", job.request_id)
    titles = Counter(f["title"] for f in world.salesforce.files_on(opportunity_id))
    assert titles == Counter({"Quote Q-9001": 1, "Quote Q-9001 - signed": 1, "Quote Q-9001 - evidence": 1,
                             "Quote Q-9001 - receipt": 2})
    subjects = Counter(t["Subject"].split(":")[0] for t in world.salesforce.tasks_on(opportunity_id))
    assert subjects == Counter({"Sent for signature": 1, "Signed": 1})
