"""Each bad input gets a clear error on its own opportunity; every other job carries on."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
import uuid

import requests

from connector.store import JobState
from sandbox.pdfgen import encrypted_pdf
from sandbox.runner import SIGNREQUEST_TOKEN
from tests.e2e.deals import make_deal

STAGE = "Contract Sent"


def _error(e2e, opportunity_id):
    record = e2e.salesforce.get_record("Opportunity", opportunity_id)
    return record["Signing_Status__c"], record["Signing_Last_Error__c"]


def _event(event_type: str, document_uuid: str, external_id: str, *, token: str = SIGNREQUEST_TOKEN) -> dict:
    event_time = str(int(time.time()))
    digest = hmac.new(token.encode(), f"{event_time}{event_type}".encode(), hashlib.sha256).hexdigest()
    return {"uuid": str(uuid.uuid4()), "status": "ok", "event_type": event_type, "event_time": event_time,
            "timestamp": "2026-11-24T09:00:00.000000Z", "event_hash": digest, "token_name": "Token",
            "team": {"name": "Sandbox team", "subdomain": "sandbox"},
            "document": {"uuid": document_uuid, "external_id": external_id, "status": "si"}, "signer": None}


def test_bad_files_and_signers_are_written_back_while_a_good_deal_goes_out(e2e):
    not_pdf = make_deal(e2e.salesforce, "Umbrella Word Doc", file=b"PK\x03\x04 word document", filename="q.docx")
    locked = make_deal(e2e.salesforce, "Umbrella Locked", file=encrypted_pdf([["Quote"]], "hunter2"))
    no_email = make_deal(e2e.salesforce, "Umbrella No Email", signer_email=None)
    good = make_deal(e2e.salesforce, "Umbrella Good")
    for opportunity_id in (not_pdf, locked, no_email, good):
        e2e.salesforce.set_stage(opportunity_id, STAGE)

    e2e.daemon.run_once()

    status, error = _error(e2e, not_pdf)
    assert status == "Error"
    assert "File 'Quote Q-9001'" in error and "is not a PDF" in error and "Save it as PDF" in error
    status, error = _error(e2e, locked)
    assert status == "Error" and "password-protected" in error
    status, error = _error(e2e, no_email)
    assert status == "Error" and "Dana Signer" in error and "has no email address" in error
    assert _error(e2e, good)[0] == "Sent"
    assert e2e.signrequest.create_calls == 1
    assert [d["external_id"] for d in e2e.signrequest.documents()] == [
        j.id for j in e2e.daemon.store.list_jobs() if j.opportunity_id == good]


def test_forged_webhook_is_refused_and_changes_nothing(e2e):
    opportunity_id = make_deal(e2e.salesforce, "Hooli Forged")
    e2e.salesforce.set_stage(opportunity_id, STAGE)
    e2e.daemon.run_once()
    [job] = e2e.daemon.store.list_jobs()
    forged = _event("signed", job.request_id, job.id, token="not-the-token")
    response = requests.post(f"{e2e.daemon.settings.public_base_url}/webhooks/signrequest", json=forged, timeout=5)
    assert response.status_code == 401
    e2e.daemon.work()
    assert e2e.daemon.store.get_job(job.id).state == JobState.AWAITING
    assert e2e.daemon.store.count_events().get("pending", 0) == 0
    assert e2e.salesforce.get_record("Opportunity", opportunity_id)["Signing_Status__c"] == "Sent"


def test_webhook_for_an_unknown_request_is_logged_and_set_aside(e2e, caplog):
    opportunity_id = make_deal(e2e.salesforce, "Hooli Known")
    e2e.salesforce.set_stage(opportunity_id, STAGE)
    e2e.daemon.run_once()
    stray = _event("signed", str(uuid.uuid4()), "someone-elses-request")
    response = requests.post(f"{e2e.daemon.settings.public_base_url}/webhooks/signrequest", json=stray, timeout=5)
    assert response.status_code == 200
    with caplog.at_level(logging.ERROR, logger="connector.inbound.dispatcher"):
        e2e.daemon.work()
    assert "which no job of this connector created" in caplog.text
    assert "someone-elses-request" in caplog.text
    assert e2e.daemon.store.count_events().get("orphan") == 1
    [job] = e2e.daemon.store.list_jobs()
    assert job.state == JobState.AWAITING
