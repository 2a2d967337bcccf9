"""Stage "Proposal" → OneSpan Sign package (SMS for the decision maker, owner countersigns) → Files back."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from connector.store import JobState
from sandbox.onespan_sim import ActionRefused
from sandbox.pdfgen import text_pdf
from tests.e2e.deals import make_deal

OWNER = "integration@sandbox.example"


def _job(e2e):
    [job] = e2e.daemon.store.list_jobs()
    return job


TERMS = text_pdf([["Terms"], ["More terms"]])


def _send(e2e, name):
    opportunity_id = make_deal(e2e.salesforce, name, extra_files=(("Terms", "terms.pdf", TERMS),))
    e2e.salesforce.set_stage(opportunity_id, "Proposal")
    e2e.daemon.run_once()
    job = _job(e2e)
    assert job.provider == "onespan" and job.state == JobState.AWAITING, job.last_error
    return opportunity_id, job


def test_signing_in_order_with_sms_then_files_come_back(e2e):
    opportunity_id, job = _send(e2e, "Wayne Proposal")
    onespan, package_id = e2e.sandbox.onespan, job.request_id
    package = onespan.package(package_id)
    roles = sorted((r for r in package["roles"] if r["type"] == "SIGNER"), key=lambda r: r["index"])
    assert [r["signers"][0]["email"] for r in roles] == ["dana@example.com", "eli.wayneproposal@example.com", OWNER]
    assert roles[0]["signers"][0]["auth"] == {"scheme": "SMS", "challenges": [{"question": "+15550100"}]}
    with pytest.raises(ActionRefused, match="SMS code"):
        onespan.sign(package_id, "dana@example.com")
    code = onespan.sms_code(package_id, "dana@example.com")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert onespan.enter_sms_code(package_id, "dana@example.com", wrong) is False
    assert onespan.enter_sms_code(package_id, "dana@example.com", code) is True
    with pytest.raises(ActionRefused, match="wait for dana@example.com"):
        onespan.sign(package_id, "eli.wayneproposal@example.com")
    for email in ("dana@example.com", "eli.wayneproposal@example.com", OWNER):
        onespan.sign(package_id, email)
    onespan.wait_for_deliveries()
    e2e.settle(until=lambda: _job(e2e).state == JobState.DONE)
    assert _job(e2e).outcome == "completed"
    files = {f["title"]: f["content"] for f in e2e.salesforce.files_on(opportunity_id)}
    assert set(files) == {"Quote Q-9001", "Terms", "Quote Q-9001 - signed", "Terms - signed",
                          "Quote Q-9001 - evidence", "Quote Q-9001 - receipt"}
    assert len(PdfReader(io.BytesIO(files["Quote Q-9001 - signed"])).pages) == 3
    assert "Terms" in PdfReader(io.BytesIO(files["Terms - signed"])).pages[0].extract_text()
    package = onespan.package(package_id)
    assert [d["name"] for d in package["documents"] if d["id"] != "default-consent"] == ["Quote Q-9001", "Terms"]
    assert "Evidence Summary" in PdfReader(io.BytesIO(files["Quote Q-9001 - evidence"])).pages[0].extract_text()
    record = e2e.salesforce.get_record("Opportunity", opportunity_id)
    assert record["Signing_Status__c"] == "Completed" and record["Signing_Request_Id__c"] == package_id


def test_decline_with_reason(e2e):
    opportunity_id, job = _send(e2e, "Stark Proposal")
    e2e.sandbox.onespan.decline(job.request_id, "dana@example.com", "Budget frozen until Q3")
    e2e.sandbox.onespan.wait_for_deliveries()
    e2e.settle(until=lambda: _job(e2e).state == JobState.DONE)
    record = e2e.salesforce.get_record("Opportunity", opportunity_id)
    assert record["Signing_Status__c"] == "Declined"
    assert record["Signing_Last_Error__c"] == "Declined by dana@example.com: Budget frozen until Q3"


def test_expiry_is_written_back(e2e):
    opportunity_id, job = _send(e2e, "Tyrell Proposal")
    e2e.sandbox.onespan.expire(job.request_id)
    e2e.sandbox.onespan.wait_for_deliveries()
    e2e.settle(until=lambda: _job(e2e).state == JobState.DONE)
    assert e2e.salesforce.get_record("Opportunity", opportunity_id)["Signing_Status__c"] == "Expired"
    assert _job(e2e).outcome == "expired"


def test_closed_lost_cancels_the_package(e2e):
    opportunity_id, job = _send(e2e, "Cyberdyne Proposal")
    e2e.salesforce.set_stage(opportunity_id, "Closed Lost")
    e2e.daemon.run_once()
    package = e2e.sandbox.onespan.package(job.request_id)
    assert package["trashed"] is True and package["status"] == "DRAFT"
    record = e2e.salesforce.get_record("Opportunity", opportunity_id)
    assert record["Signing_Status__c"] == "Cancelled"
    assert "moved to stage 'Closed Lost'" in record["Signing_Last_Error__c"]
