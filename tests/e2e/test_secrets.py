"""No secret reaches the logs, Salesforce, `run_connector.py status` or /metrics: API tokens and keys,
callback secrets, the client secret, session ids."""

from __future__ import annotations

import logging

import requests

from connector.store import JobState
from sandbox.runner import (
    LEGALSIGN_CALLBACK_SECRET,
    LEGALSIGN_KEY,
    ONESPAN_CALLBACK_KEY,
    ONESPAN_KEY,
    SF_CLIENT_SECRET,
    SIGNREQUEST_TOKEN,
)
from tests.e2e.deals import make_deal, sign
from tests.e2e.status_command import run_status


def test_a_full_run_at_debug_level_shows_no_secret_anywhere(e2e, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    opportunity_id = make_deal(e2e.salesforce, "Secretive Deal")
    e2e.salesforce.set_stage(opportunity_id, "Contract Sent")
    e2e.daemon.run_once()
    e2e.salesforce.expire_sessions()  # forces a fresh login mid-run
    [job] = e2e.daemon.store.list_jobs()
    sign(e2e.signrequest, job.request_id, "dana@example.com")
    sign(e2e.signrequest, job.request_id, "eli.secretivedeal@example.com")
    e2e.settle(until=lambda: e2e.daemon.store.get_job(job.id).state == JobState.DONE)
    requests.post(f"{e2e.daemon.settings.public_base_url}/webhooks/signrequest", timeout=5,
                  json={"event_time": "1", "event_type": "signed", "event_hash": "forged", "document": {}})
    # A second deal whose "Sent" writeback Salesforce refuses for good: the job is parked, and status shows why.
    refused_id = make_deal(e2e.salesforce, "Refused Deal")
    e2e.salesforce.inject_fault("POST /composite", status=400, error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION",
                                message="Signing fields are locked for this record type")
    e2e.salesforce.set_stage(refused_id, "Contract Sent")
    e2e.daemon.run_once()

    assert e2e.daemon.store.get_job(job.id).outcome == "completed"
    [parked] = e2e.daemon.store.list_jobs(states=[JobState.PARKED])
    session_ids = list(e2e.salesforce.sessions.issued)
    assert len(session_ids) >= 2
    secrets = [SIGNREQUEST_TOKEN, SF_CLIENT_SECRET, ONESPAN_KEY, ONESPAN_CALLBACK_KEY, LEGALSIGN_KEY,
               LEGALSIGN_CALLBACK_SECRET, e2e.daemon.providers["legalsign"].callback_path_token(), *session_ids]

    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert caplog.records, "expected the run to log something"
    written = " ".join(str(v) for opp in (opportunity_id, refused_id)
                       for v in e2e.salesforce.get_record("Opportunity", opp).values())
    status = run_status(e2e.daemon.settings, tmp_path)
    assert f"parked {parked.id} opportunity {parked.opportunity_id}" in status
    assert "Salesforce API usage:" in status and "done=1" in status
    assert "finished jobs by outcome: completed=1" in status
    metrics = requests.get(f"{e2e.daemon.settings.public_base_url}/metrics", timeout=5)
    assert 'connector_jobs{outcome="completed",state="done"} 1.0' in metrics.text
    assert 'connector_jobs_parked{provider="signrequest",step="sent"} 1.0' in metrics.text
    for where, text in {"logs": logged, "Salesforce": written, "status": status, "/metrics": metrics.text}.items():
        for secret in secrets:
            assert secret not in text, f"a secret appears in {where}"
