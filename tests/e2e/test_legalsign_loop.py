"""Stage "Negotiation" → Legalsign: two signers in order → signed PDF and audit log on the opportunity."""

from __future__ import annotations

import io

import pytest
import requests
from pypdf import PdfReader

from connector.store import JobState
from sandbox.legalsign_sim import ActionRefused
from tests.e2e.deals import make_deal, sign


def _job(e2e):
    [job] = e2e.daemon.store.list_jobs()
    return job


def _send(e2e, name):
    opportunity_id = make_deal(e2e.salesforce, name)
    e2e.salesforce.set_stage(opportunity_id, "Negotiation")
    e2e.daemon.run_once()
    job = _job(e2e)
    assert job.provider == "legalsign" and job.state == JobState.AWAITING, job.last_error
    return opportunity_id, job


def test_two_signers_in_order_then_signed_pdf_and_audit_log_come_back(e2e):
    opportunity_id, job = _send(e2e, "Soylent Terms")
    legalsign = e2e.sandbox.legalsign
    assert legalsign.documents[job.request_id].tag == job.id
    with pytest.raises(ActionRefused, match="must wait"):
        legalsign.sign(job.request_id, "eli.soylentterms@example.com")
    with pytest.raises(ActionRefused, match="SMS code"):
        legalsign.sign(job.request_id, "dana@example.com")
    sign(legalsign, job.request_id, "dana@example.com")
    sign(legalsign, job.request_id, "eli.soylentterms@example.com")
    legalsign.wait_for_deliveries()
    e2e.settle(until=lambda: _job(e2e).state == JobState.DONE)
    assert _job(e2e).outcome == "completed"
    files = {f["title"]: f["content"] for f in e2e.salesforce.files_on(opportunity_id)}
    assert set(files) == {"Quote Q-9001", "Quote Q-9001 - signed", "Quote Q-9001 - evidence", "Quote Q-9001 - receipt"}
    assert "certificate" in PdfReader(io.BytesIO(files["Quote Q-9001 - signed"])).pages[-1].extract_text()
    assert "Audit log" in PdfReader(io.BytesIO(files["Quote Q-9001 - evidence"])).pages[0].extract_text()
    delivered = [d for d in legalsign.deliveries if d["status_code"] == 200]
    assert delivered and all("/webhooks/legalsign/" in d["url"] for d in delivered)


def test_callbacks_on_the_plain_path_are_not_accepted(e2e):
    response = requests.post(f"{e2e.daemon.settings.public_base_url}/webhooks/legalsign", json={}, timeout=5)
    assert response.status_code == 404
    response = requests.post(f"{e2e.daemon.settings.public_base_url}/webhooks/legalsign/guessed", json={}, timeout=5)
    assert response.status_code == 404


def test_rejection_with_reason(e2e):
    opportunity_id, job = _send(e2e, "Massive Terms")
    e2e.sandbox.legalsign.decline(job.request_id, "dana@example.com", "Clause 4 is not what we agreed")
    e2e.sandbox.legalsign.wait_for_deliveries()
    e2e.settle(until=lambda: _job(e2e).state == JobState.DONE)
    record = e2e.salesforce.get_record("Opportunity", opportunity_id)
    assert record["Signing_Status__c"] == "Declined"
    assert record["Signing_Last_Error__c"] == "Declined by dana@example.com: Clause 4 is not what we agreed"


def test_passed_deadline_is_reported_as_expired(e2e, monkeypatch):
    opportunity_id, job = _send(e2e, "Oscorp Terms")
    e2e.sandbox.legalsign.expire(job.request_id)
    provider = e2e.daemon.providers["legalsign"]
    monkeypatch.setattr(provider, "clock", lambda: 4102444800.0)  # 2100: past the 21-day deadline
    e2e.settle(until=lambda: _job(e2e).state == JobState.DONE, timeout=5)
    assert _job(e2e).outcome == "expired"
    assert e2e.salesforce.get_record("Opportunity", opportunity_id)["Signing_Status__c"] == "Expired"


def test_closed_lost_voids_the_document(e2e):
    opportunity_id, job = _send(e2e, "Initrode Terms")
    e2e.salesforce.set_stage(opportunity_id, "Closed Lost")
    e2e.daemon.run_once()
    assert e2e.sandbox.legalsign.documents[job.request_id].status == 40
    assert e2e.salesforce.get_record("Opportunity", opportunity_id)["Signing_Status__c"] == "Cancelled"
