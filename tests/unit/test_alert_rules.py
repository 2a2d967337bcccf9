"""deploy/prometheus/alerts.yml: promtool accepts it, its alerts fire on the series the daemon exports, and
every metric its expressions name is one /metrics serves."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from config.settings import REPO_ROOT
from connector.runtime.metrics import DaemonMetrics, StateSnapshot

RULES = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"
_NAME = re.compile(r"\b(connector_[a-z_]+)")


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: .ci/run installs it with Debian's prometheus package")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return found


def _exported_names() -> set[str]:
    """Every sample name /metrics can show, with each optional gauge present."""
    metrics = DaemonMetrics()
    metrics.watch(lambda: StateSnapshot(jobs={("parked", ""): 1}, parked={("signrequest", "sent"): 1},
                                        salesforce_api_calls=3, salesforce_usage=(10, 100), budget_share=0.8,
                                        poll_lag_seconds=1.0, ready=True, is_poller=True, worker_id="w"))
    for call in (lambda: metrics.job_sent("p", 1), lambda: metrics.job_written_back("p", 1),
                 lambda: metrics.job_finished("p", "completed"), lambda: metrics.job_parked("p", "sent", "config"),
                 lambda: metrics.webhook_accepted("p"), lambda: metrics.webhook_refused("p", "invalid"),
                 lambda: metrics.provider_call("p", "GET", "/x", "429", 0.1), lambda: metrics.rate_limit_wait("p", 0),
                 lambda: metrics.poll_finished(1.0), lambda: metrics.push_lag(2.0)):
        call()
    text = metrics.render().decode()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}


def _rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_every_expression_names_metrics_that_exist():
    exported = _exported_names()
    named = {name for rule in _rules() for name in _NAME.findall(rule["expr"])}
    assert named, "the rules name no connector metric"
    assert named - exported == set()


def test_the_rules_cover_what_the_issue_asks_for():
    alerts = {rule["alert"] for rule in _rules()}
    assert {"ConnectorJobsParked", "ConnectorWebhooksRefused", "ConnectorSalesforceApiBudget", "ConnectorPollLag",
            "ConnectorPushLag", "ConnectorWritebackSlow", "ConnectorWritebackStuck"} <= alerts


def test_promtool_accepts_the_rules():
    done = subprocess.run([_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_sees_the_alerts_fire_on_the_daemons_series(tmp_path):
    """Unit tests in promtool's own format: a parked job alerts at the first evaluation, refused callbacks once
    ten come in ten minutes, usage over the budget share at once, a poll lag past ten minutes at once."""
    tests = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                {"series": 'connector_jobs_parked{instance="a",provider="signrequest",step="sent"}',
                 "values": "0 0 1 1"},
                {"series": 'connector_jobs_parked{instance="b",provider="signrequest",step="sent"}',
                 "values": "0 0 1 1"},
                {"series": 'connector_webhooks_refused_total{instance="a",provider="onespan",reason="unauthenticated"}',
                 "values": "0 0 5 20"},
                {"series": 'connector_salesforce_api_usage_calls{instance="a"}', "values": "100 900 900 900"},
                {"series": 'connector_salesforce_api_allocation_calls{instance="a"}', "values": "1000 1000 1000 1000"},
                {"series": 'connector_salesforce_api_budget_ratio{instance="a"}', "values": "0.8 0.8 0.8 0.8"},
                {"series": 'connector_poll_lag_seconds{instance="a"}', "values": "5 5 700 5"},
            ],
            "alert_rule_test": [
                {"eval_time": "1m", "alertname": "ConnectorJobsParked", "exp_alerts": []},
                {"eval_time": "2m", "alertname": "ConnectorJobsParked", "exp_alerts": [
                    {"exp_labels": {"severity": "warning", "provider": "signrequest", "step": "sent"},
                     "exp_annotations": {
                         "summary": "1 signrequest job(s) parked at step sent",
                         "description": "Run `run_connector.py status` for the reason, fix it, then "
                                        "`run_connector.py retry <job>`."}}]},
                {"eval_time": "2m", "alertname": "ConnectorWebhooksRefused", "exp_alerts": []},
                {"eval_time": "3m", "alertname": "ConnectorWebhooksRefused", "exp_alerts": [
                    {"exp_labels": {"severity": "warning", "provider": "onespan", "reason": "unauthenticated"},
                     "exp_annotations": {"summary": "onespan callbacks refused (unauthenticated): 20 in 10 minutes"}}]},
                {"eval_time": "0m", "alertname": "ConnectorSalesforceApiBudget", "exp_alerts": []},
                {"eval_time": "1m", "alertname": "ConnectorSalesforceApiBudget", "exp_alerts": [
                    {"exp_labels": {"severity": "warning"}, "exp_annotations": {
                        "summary": "The org's API usage is at 90% of its allocation, over the connector's budget"}}]},
                {"eval_time": "1m", "alertname": "ConnectorPollLag", "exp_alerts": []},
                {"eval_time": "2m", "alertname": "ConnectorPollLag", "exp_alerts": [
                    {"exp_labels": {"severity": "critical"},
                     "exp_annotations": {"summary": "No successful poll of Salesforce for 11m 40s"}}]},
            ],
        }],
    }
    path = tmp_path / "alerts_test.yml"
    path.write_text(yaml.safe_dump(tests, sort_keys=False))
    done = subprocess.run([_promtool(), "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_accepts_the_example_scrape_configuration(tmp_path):
    """deploy/prometheus/prometheus.yml, with its token file made and the rules beside it."""
    token = tmp_path / "token"
    token.write_text("a-metrics-token\n")
    config = (RULES.parent / "prometheus.yml").read_text()
    assert "/etc/prometheus/esign-connector-metrics-token" in config
    (tmp_path / "prometheus.yml").write_text(config.replace("/etc/prometheus/esign-connector-metrics-token",
                                                            str(token)))
    (tmp_path / "alerts.yml").write_text(RULES.read_text())
    done = subprocess.run([_promtool(), "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 rules found" in done.stdout
