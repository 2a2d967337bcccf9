"""Stage change in Salesforce → SignRequest → signers sign → Files and status on the opportunity.

Real simple-salesforce client and real SignRequest adapter, over HTTP, against the simulators.
"""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from connector.store import JobState
from sandbox.signrequest_sim import ActionRefused
from tests.e2e.deals import make_deal, sign

STAGE = "Contract Sent"


def _job(e2e):
    [job] = e2e.daemon.store.list_jobs()
    return job


def _opportunity(e2e, opportunity_id):
    return e2e.salesforce.get_record("Opportunity", opportunity_id)


def test_full_loop_with_a_restart_between_every_step(e2e):
    opportunity_id = make_deal(e2e.salesforce, "Globex Renewal")
    e2e.salesforce.reset_api_calls()
    e2e.salesforce.set_stage(opportunity_id, STAGE)

    e2e.daemon.run_once()
    e2e.restart().run_once()  # a second poll after a restart must not send again
    job = _job(e2e)
    assert job.state == JobState.AWAITING
    [document] = e2e.signrequest.documents()
    assert document["external_id"] == job.id and document["uuid"] == job.request_id
    assert e2e.signrequest.create_calls == 1
    assert _opportunity(e2e, opportunity_id)["Signing_Status__c"] == "Sent"

    e2e.restart()
    assert e2e.signrequest.document(job.request_id)["signrequest"]["signers"][1]["verify_phone_number"] == "+15550100"
    with pytest.raises(ActionRefused, match="SMS code"):
        e2e.signrequest.sign(job.request_id, "dana@example.com")
    sign(e2e.signrequest, job.request_id, "dana@example.com")
    e2e.settle()
    e2e.restart()
    sign(e2e.signrequest, job.request_id, "eli.globexrenewal@example.com")
    e2e.restart()
    e2e.settle(until=lambda: _job(e2e).state == JobState.DONE)
    e2e.restart().run_once()

    job = _job(e2e)
    assert (job.state, job.outcome) == (JobState.DONE, "completed")
    record = _opportunity(e2e, opportunity_id)
    assert record["Signing_Status__c"] == "Completed"
    assert record["Signing_Request_Id__c"] == job.request_id
    assert record["Signing_Sent_At__c"] and record["Signing_Completed_At__c"]
    files = {f["title"]: f for f in e2e.salesforce.files_on(opportunity_id)}
    assert set(files) == {"Quote Q-9001", "Quote Q-9001 - signed", "Quote Q-9001 - evidence", "Quote Q-9001 - receipt"}
    signed = PdfReader(io.BytesIO(files["Quote Q-9001 - signed"]["content"]))
    assert len(signed.pages) >= 2
    PdfReader(io.BytesIO(files["Quote Q-9001 - evidence"]["content"]))
    subjects = [t["Subject"] for t in e2e.salesforce.tasks_on(opportunity_id)]
    assert subjects == [f"Sent for signature: Quote Q-9001 (SignRequest {job.request_id})",
                        f"Signed: Quote Q-9001 (SignRequest {job.request_id})"]
    assert e2e.signrequest.create_calls == 1
    print(f"\nSalesforce API calls for one signing (incl. {e2e.salesforce.api_calls}):",
          e2e.salesforce.total_api_calls)


def test_decline_writes_status_and_the_reason(e2e):
    opportunity_id = make_deal(e2e.salesforce, "Initech Expansion")
    e2e.salesforce.set_stage(opportunity_id, STAGE)
    e2e.daemon.run_once()
    job = _job(e2e)
    e2e.signrequest.decline(job.request_id, "dana@example.com", "The price is higher than agreed")
    e2e.settle(until=lambda: _job(e2e).state == JobState.DONE)
    record = _opportunity(e2e, opportunity_id)
    assert record["Signing_Status__c"] == "Declined"
    assert "The price is higher than agreed" in record["Signing_Last_Error__c"]
    [_, declined] = e2e.salesforce.tasks_on(opportunity_id)
    assert declined["Subject"].startswith("Signature declined: Quote Q-9001")
    assert "Reason: The price is higher than agreed" in declined["Description"]


def test_one_isolated_signing_costs_five_salesforce_calls(e2e):
    """Poll (1), download the PDF (1), write "Sent" + Task (1 composite), attach both Files + status + Task
    (1 composite), attach the receipt's JSON and PDF (1 composite; the ids of the signed Files come from the
    reply, no query). Webhooks and provider status checks cost no Salesforce call."""
    opportunity_id = make_deal(e2e.salesforce, "Counted Deal")
    e2e.salesforce.set_stage(opportunity_id, STAGE)
    e2e.salesforce.reset_api_calls()
    e2e.daemon.run_once()
    job = _job(e2e)
    sign(e2e.signrequest, job.request_id, "dana@example.com")
    sign(e2e.signrequest, job.request_id, "eli.counteddeal@example.com")
    e2e.settle(until=lambda: _job(e2e).state == JobState.DONE)
    assert _job(e2e).outcome == "completed"
    assert dict(e2e.salesforce.api_calls) == {
        "GET /query": 1, "GET /sobjects/ContentVersion/{id}/VersionData": 1, "POST /composite": 3}


def test_expiry_is_written_back(e2e):
    opportunity_id = make_deal(e2e.salesforce, "Expiring Deal")
    e2e.salesforce.set_stage(opportunity_id, STAGE)
    e2e.daemon.run_once()
    e2e.signrequest.expire(_job(e2e).request_id)
    e2e.settle(until=lambda: _job(e2e).state == JobState.DONE)
    record = _opportunity(e2e, opportunity_id)
    assert record["Signing_Status__c"] == "Expired" and "expired before everyone signed" in record[
        "Signing_Last_Error__c"]
    assert e2e.salesforce.tasks_on(opportunity_id)[-1]["Subject"].startswith("Signature expired: Quote Q-9001")


def test_closed_lost_cancels_the_request_at_signrequest(e2e):
    opportunity_id = make_deal(e2e.salesforce, "Lost Deal")
    e2e.salesforce.set_stage(opportunity_id, STAGE)
    e2e.daemon.run_once()
    job = _job(e2e)
    e2e.salesforce.set_stage(opportunity_id, "Closed Lost")
    e2e.daemon.run_once()
    assert e2e.signrequest.document(job.request_id)["status"] == "ca"
    assert _job(e2e).outcome == "cancelled"
    assert _opportunity(e2e, opportunity_id)["Signing_Status__c"] == "Cancelled"
