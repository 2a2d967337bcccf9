"""No secret reaches the logs or Salesforce: API token, client secret, session ids."""

from __future__ import annotations

import logging

import requests

from connector.sandbox.runner import SF_CLIENT_SECRET, SIGNREQUEST_TOKEN
from connector.store import JobState
from tests.e2e.deals import make_deal, sign


def test_a_full_run_at_debug_level_logs_no_secret(e2e, caplog):
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

    assert e2e.daemon.store.get_job(job.id).outcome == "completed"
    session_ids = list(e2e.salesforce.sessions.issued)
    assert len(session_ids) >= 2
    secrets = [SIGNREQUEST_TOKEN, SF_CLIENT_SECRET, *session_ids]
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert caplog.records, "expected the run to log something"
    for secret in secrets:
        assert secret not in text
    record = e2e.salesforce.get_record("Opportunity", opportunity_id)
    written = " ".join(str(v) for v in record.values())
    for secret in secrets:
        assert secret not in written
