"""Embedded signing and stage moves, end to end over HTTP: Salesforce simulator, SignRequest simulator,
the real adapters and the daemon's webhook server.

The rule has its own writeback: names (the Salesforce simulator's Opportunity has the optional
decline-reason and signing-URL fields) and moves the deal to Closed Won or Qualification.
"""

from __future__ import annotations

import pytest
import requests

from connector.runtime.daemon import Daemon
from connector.runtime.servers import free_port
from connector.store import JobState
from sandbox.runner import start_daemon, start_simulators
from tests.e2e.conftest import E2E
from tests.e2e.deals import make_deal

RULES = """version: 1
rules:
  - id: on-the-spot
    trigger: {stages: ["Contract Sent"]}
    provider: signrequest
    documents: {title_pattern: "Quote*"}
    signers:
      - role: Decision Maker
        delivery: embedded         # the rep opens the link with the customer
      - role: Economic Buyer
    writeback:
      signing_url: Signing_URL__c
      decline_reason: Signing_Decline_Reason__c
    move_to_stage_on: {completed: Closed Won, declined: Qualification}
"""
DANA = "dana@example.com"


@pytest.fixture
def e2e(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    sandbox = start_simulators(tmp_path, webhook_port=free_port(), status_check_minutes=0.02,
                               webhook_orphan_grace_seconds=0, mappings_path=rules)
    daemon: Daemon = start_daemon(sandbox)
    daemon.serve_webhooks()
    world = E2E(sandbox, daemon)
    yield world
    world.daemon.stop()
    sandbox.stop()


def _job(e2e):
    [job] = e2e.daemon.store.list_jobs()
    return job


def _sent_with_link(e2e, name: str) -> tuple[str, str, object]:
    opportunity_id = make_deal(e2e.salesforce, name)
    e2e.salesforce.set_stage(opportunity_id, "Contract Sent")
    e2e.daemon.run_once()
    job = _job(e2e)
    record = e2e.salesforce.get_record("Opportunity", opportunity_id)
    assert (job.state, record["Signing_Status__c"]) == (JobState.AWAITING, "Sent")
    return opportunity_id, record["Signing_URL__c"], job


def test_embedded_signer_signs_through_the_written_link_and_the_deal_moves_to_closed_won(e2e):
    opportunity_id, link, job = _sent_with_link(e2e, "Umbrella Onsite")
    signers = e2e.signrequest.document(job.request_id)["signrequest"]["signers"]
    dana = next(s for s in signers if s["email"] == DANA)
    assert link == dana["embed_url"] and dana["emailed"] is False and dana["embed_url_user_id"] == DANA

    page = requests.get(link, timeout=10)
    assert page.status_code == 200 and "Type your full name to sign" in page.text
    signed = requests.post(link, data={"action": "sign", "full_name": "Dana Signer"}, timeout=10)
    assert signed.status_code == 200 and "You have signed" in signed.text

    eli = e2e.signrequest.document(job.request_id)["signrequest"]["signers"]
    assert next(s for s in eli if s["email"].startswith("eli."))["emailed"] is True  # invited once Dana signed
    e2e.signrequest.sign(job.request_id, "eli.umbrellaonsite@example.com")
    e2e.settle(until=lambda: _job(e2e).state == JobState.DONE)

    record = e2e.salesforce.get_record("Opportunity", opportunity_id)
    assert (_job(e2e).outcome, record["Signing_Status__c"], record["StageName"]) == (
        "completed", "Completed", "Closed Won")
    assert record["Signing_URL__c"] is None  # a finished request's link is not left on the record
    assert {f["title"] for f in e2e.salesforce.files_on(opportunity_id)} >= {"Quote Q-9001 - signed"}
    e2e.daemon.run_once()
    assert len(e2e.daemon.store.list_jobs()) == 1 and e2e.signrequest.create_calls == 1


def test_a_decline_moves_the_deal_and_fills_the_decline_reason_field(e2e):
    opportunity_id, link, job = _sent_with_link(e2e, "Hooli Pilot")
    declined = requests.post(link, data={"action": "decline", "reason": "Volume is lower than quoted"}, timeout=10)
    assert declined.status_code == 200 and "You declined" in declined.text
    e2e.settle(until=lambda: _job(e2e).state == JobState.DONE)

    record = e2e.salesforce.get_record("Opportunity", opportunity_id)
    assert (record["Signing_Status__c"], record["StageName"]) == ("Declined", "Qualification")
    assert record["Signing_Decline_Reason__c"] == f"Declined by {DANA}: Volume is lower than quoted"
    assert record["Signing_Last_Error__c"] is None and record["Signing_URL__c"] is None
    subjects = [t["Subject"] for t in e2e.salesforce.tasks_on(opportunity_id)]
    assert subjects[-1] == f"Signature declined: Quote Q-9001 (SignRequest {job.request_id})"
