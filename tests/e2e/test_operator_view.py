"""The operator's view against the simulators, over HTTP: /metrics after a signing, the JSON log of its
steps, /readyz, and how soon a forced failure makes an alert expression of deploy/prometheus true."""

from __future__ import annotations

import io
import json
import logging
import time

import requests
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from connector.runtime.daemon import bootstrap
from connector.runtime.logs import JsonFormatter
from connector.store import JobState
from sandbox.runner import start_daemon, start_simulators
from tests.e2e.deals import make_deal, sign


def _scrape(base_url: str) -> list:
    answer = requests.get(f"{base_url}/metrics", timeout=5)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return [sample for family in text_string_to_metric_families(answer.text) for sample in family.samples]


def _value(samples: list, name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def test_a_signing_shows_in_metrics_and_in_json_logs(e2e):
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level, root.level = root.level, logging.INFO
    try:
        opportunity_id = make_deal(e2e.salesforce, "Observed Deal")
        e2e.salesforce.set_stage(opportunity_id, "Contract Sent")
        e2e.daemon.run_once()
        [job] = e2e.daemon.store.list_jobs()
        sign(e2e.signrequest, job.request_id, "dana@example.com")
        sign(e2e.signrequest, job.request_id, "eli.observeddeal@example.com")
        e2e.settle(until=lambda: e2e.daemon.store.get_job(job.id).state == JobState.DONE)
    finally:
        root.removeHandler(handler)
        root.level = old_level
    base = e2e.daemon.settings.public_base_url
    text = requests.get(f"{base}/metrics", timeout=5).text
    samples = _scrape(base)

    assert _value(samples, "connector_jobs", state="done", outcome="completed") == 1
    assert _value(samples, "connector_jobs_finished_total", provider="signrequest", outcome="completed") == 1
    assert _value(samples, "connector_stage_change_to_sent_seconds_count", provider="signrequest") == 1
    assert _value(samples, "connector_completion_to_writeback_seconds_count", provider="signrequest") == 1
    assert _value(samples, "connector_provider_requests_total", provider="signrequest", method="POST",
                  endpoint="/api/v1/signrequest-quick-create/") == 1
    assert _value(samples, "connector_provider_requests_total", provider="signrequest", method="GET",
                  endpoint="/api/v1/documents/{id}/") >= 1
    assert _value(samples, "connector_provider_request_duration_seconds_count", provider="signrequest") >= 2
    assert _value(samples, "connector_webhooks_accepted_total", provider="signrequest") >= 1
    assert _value(samples, "connector_salesforce_api_calls_total") > 0
    assert _value(samples, "connector_salesforce_api_allocation_calls") > 0
    assert _value(samples, "connector_poll_lag_seconds") >= 0  # alone on SQLite, this daemon is the poller
    for an_id in (job.id, job.request_id, opportunity_id):  # bounded labels: never an id
        assert an_id not in text

    records = [json.loads(line) for line in lines.getvalue().splitlines()]
    mine = [r for r in records if r.get("job_id") == job.id]
    assert {"time", "level", "logger", "message"} <= mine[0].keys()
    sent = next(r for r in mine if "sent signrequest request" in r["message"])
    assert sent | {"time": None} == sent | {
        "time": None, "level": "INFO", "opportunity_id": opportunity_id, "rule": job.rule_id,
        "provider": "signrequest", "step": "new"}
    attached = next(r for r in mine if "signed documents and evidence attached" in r["message"])
    assert attached["request_id"] == job.request_id and attached["step"] == "completing"


def test_a_parked_job_makes_the_alert_expression_true_within_seconds(tmp_path):
    """A running daemon (scheduler, worker pool): a deal whose "Sent" write-back Salesforce refuses for good
    parks its job; `max by (provider, step) (connector_jobs_parked) > 0` (ConnectorJobsParked) holds on the
    next scrape. The time is printed for the README's figure."""
    sandbox = start_simulators(tmp_path, webhook_port=0, poll_interval_seconds=1, work_interval_seconds=0.2,
                               readiness_cache_seconds=0)
    daemon = start_daemon(sandbox)
    try:
        base = daemon.start()
        ready = requests.get(f"{base}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "mappings": "ok", "salesforce": "ok",
                                          "provider:legalsign": "ok", "provider:onespan": "ok",
                                          "provider:signrequest": "ok"}
        assert requests.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
        opportunity_id = make_deal(sandbox.salesforce, "Refused Deal")
        sandbox.salesforce.inject_fault("POST /composite", status=400, error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION",
                                        message="Signing fields are locked for this record type")
        forced = time.monotonic()
        sandbox.salesforce.set_stage(opportunity_id, "Contract Sent")
        firing = None
        while time.monotonic() - forced < 30:
            parked = [s for s in _scrape(base) if s.name == "connector_jobs_parked" and s.value > 0]
            if parked:
                firing = time.monotonic() - forced
                break
            time.sleep(0.1)
        assert firing is not None, "no parked job showed in /metrics within 30 s"
        assert parked[0].labels == {"provider": "signrequest", "step": "sent"}
        print(f"\nforced failure -> ConnectorJobsParked expression true: {firing:.2f} s "
              "(poll interval 1 s; scrape every 0.1 s)")
        assert _value(_scrape(base), "connector_job_parkings_total", provider="signrequest", step="sent") == 1
    finally:
        daemon.stop()
        sandbox.stop()


def test_readiness_names_a_refused_salesforce_login_and_an_unreachable_provider(e2e, caplog):
    e2e.sandbox.onespan_server.stop()
    # A replica started with a client secret Salesforce no longer takes (rotated in the org, say).
    stale = e2e.sandbox.settings.model_copy(update={"salesforce_client_secret": SecretStr("stale-secret-value")})
    daemon = bootstrap(stale, http_session=e2e.sandbox.http_session)
    caplog.set_level(logging.WARNING)
    try:
        assert daemon.readiness() == {"database": True, "mappings": True, "salesforce": False,
                                      "provider:legalsign": True, "provider:onespan": False,
                                      "provider:signrequest": True}
    finally:
        daemon.store.close()
    warned = [r.getMessage() for r in caplog.records if r.getMessage().startswith("not ready")]
    assert len(warned) == 2 and any("the salesforce check failed" in line for line in warned)
    assert "stale-secret-value" not in caplog.text
