"""DaemonMetrics: a registry per daemon, bounded labels, and what the parts report shows in the text."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from connector.runtime.metrics import DaemonMetrics, StateSnapshot, endpoint_of


def _samples(metrics: DaemonMetrics) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(metrics.render().decode()) for s in family.samples}


def test_ids_in_paths_become_a_placeholder():
    assert endpoint_of("/api/v1/signrequests/9a1f0c2e-77aa-4b3c-8d9e-0123456789ab/") == "/api/v1/signrequests/{id}/"
    assert endpoint_of("/api/packages/Zx8YqLmNoPqRsTuVwXyZaBcD/documents/default-consent/pdf") == \
        "/api/packages/{id}/documents/default-consent/pdf"
    assert endpoint_of("/api/v1/document/?limit=5") == "/api/v1/document/"
    assert endpoint_of("/pdf/ABCDEFGHIJ/") == "/pdf/{id}/"  # an id without digits is still an id (upper case)


def test_two_daemons_in_one_process_keep_their_own_figures():
    first, second = DaemonMetrics(), DaemonMetrics()
    first.webhook_accepted("signrequest")
    first.webhook_accepted("signrequest")
    second.webhook_refused("onespan", "unauthenticated")
    assert _samples(first)[("connector_webhooks_accepted_total", (("provider", "signrequest"),))] == 2
    assert not any(name == "connector_webhooks_refused_total" for name, _ in _samples(first))
    assert _samples(second)[("connector_webhooks_refused_total",
                             (("provider", "onespan"), ("reason", "unauthenticated")))] == 1


def test_a_429_counts_as_a_call_and_as_rate_limited():
    metrics = DaemonMetrics()
    metrics.provider_call("legalsign", "POST", "/api/v1/document/", "429", 0.2)
    metrics.provider_call("legalsign", "POST", "/api/v1/document/", "201", 0.3)
    samples = _samples(metrics)
    labels = (("endpoint", "/api/v1/document/"), ("method", "POST"), ("provider", "legalsign"))
    assert samples[("connector_provider_requests_total", (*labels[:2], ("provider", "legalsign"), ("status", "429")))] == 1
    assert samples[("connector_provider_rate_limited_total", (("provider", "legalsign"),))] == 1
    assert samples[("connector_provider_request_duration_seconds_count", labels)] == 2


def test_state_gauges_are_read_at_each_scrape():
    state = {"parked": 0}
    metrics = DaemonMetrics()
    metrics.watch(lambda: StateSnapshot(
        jobs={("done", "completed"): 3, ("parked", ""): state["parked"]},
        parked={("onespan", "completing"): state["parked"]} if state["parked"] else {},
        salesforce_api_calls=41, salesforce_usage=(900, 1000), budget_share=0.8, poll_lag_seconds=None,
        ready=True, is_poller=False, worker_id="abc"))
    assert ("connector_jobs_parked", (("provider", "onespan"), ("step", "completing"))) not in _samples(metrics)
    state["parked"] = 2
    samples = _samples(metrics)
    assert samples[("connector_jobs_parked", (("provider", "onespan"), ("step", "completing")))] == 2
    assert samples[("connector_jobs", (("outcome", "completed"), ("state", "done")))] == 3
    assert samples[("connector_salesforce_api_calls_total", ())] == 41
    assert samples[("connector_salesforce_api_usage_calls", ())] == 900
    assert not any(name == "connector_poll_lag_seconds" for name, _ in samples)  # not the poller


def test_the_summary_tally_starts_again_after_each_line():
    metrics = DaemonMetrics()
    metrics.poll_finished(1.0)
    metrics.poll_finished(2.0)
    metrics.job_finished("signrequest", "completed")
    assert metrics.take_tally() == {"polls": 2, "completed": 1}
    assert metrics.take_tally() == {}


def test_the_push_lag_shows_only_once_a_push_source_reports_it():
    metrics = DaemonMetrics()
    assert "connector_push_lag_seconds" not in metrics.render().decode()
    metrics.push_lag(12.5)
    metrics.push_lag(3.0)
    assert _samples(metrics)[("connector_push_lag_seconds", ())] == 3.0


def test_the_push_source_state_is_one_series_per_state_and_absent_when_push_is_off():
    snapshot = {"push_state": None}
    metrics = DaemonMetrics()
    metrics.watch(lambda: StateSnapshot(
        jobs={}, parked={}, salesforce_api_calls=0, salesforce_usage=None, budget_share=0.8, poll_lag_seconds=1.0,
        ready=True, is_poller=True, worker_id="abc", push_state=snapshot["push_state"]))
    assert not any(name == "connector_push_state" for name, _ in _samples(metrics))
    snapshot["push_state"] = "streaming"
    states = {labels[0][1]: value for (name, labels), value in _samples(metrics).items()
              if name == "connector_push_state"}
    assert states == {"standby": 0, "connecting": 0, "streaming": 1, "reconnecting": 0, "off": 0}
