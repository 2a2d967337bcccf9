"""Prometheus metrics of one daemon: `DaemonMetrics` is the `Observer` the daemon hands its parts, with a
registry of its own (never the process-wide default), so that tests and several daemons in one process keep
separate figures. Counters and histograms grow as the parts report; the gauges of the state (jobs by state,
parked jobs, the Salesforce API budget, poll lag) are read from the daemon when Prometheus scrapes.

Labels are bounded: provider names, steps, outcomes, error kinds, HTTP methods and statuses, and endpoint
paths with their ids replaced by `{id}` (`endpoint_of`). No opportunity, job or request id is ever a label.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from connector.ports.observer import Observer

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 300.0)
_JOURNEY_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600)
_WORD = re.compile(r"[a-z][a-z_-]{0,39}")  # API words are lower case; a random id is all lower case ~never
_VERSION = re.compile(r"v\d+(\.\d+)?")


def endpoint_of(path: str) -> str:
    """A request path with every id-like segment replaced by `{id}`: `/api/v1/signrequests/4f3c.../` becomes
    `/api/v1/signrequests/{id}/`. A segment stays only when it is a lower-case word without digits (or a version)."""
    kept = [segment if not segment or _WORD.fullmatch(segment) or _VERSION.fullmatch(segment) else "{id}"
            for segment in path.split("?", 1)[0].split("/")]
    return "/".join(kept) or "/"


@dataclass(frozen=True)
class StateSnapshot:
    """What the daemon knows at a scrape; see `Daemon.metrics_snapshot`."""

    jobs: dict[tuple[str, str], int]  # (state, outcome or "") -> count
    parked: dict[tuple[str, str], int]  # (provider, step) -> count
    salesforce_api_calls: int
    salesforce_usage: tuple[int, int] | None  # (used, allocation) over the org's 24 hours
    budget_share: float
    poll_lag_seconds: float | None  # None: this replica does not poll (another one is the poller)
    ready: bool
    is_poller: bool = False
    worker_id: str = ""
    push_state: str | None = None  # the change-event source's state; None when push triggers are off


PUSH_STATES = ("standby", "connecting", "streaming", "reconnecting", "off")


class _StateCollector(Collector):
    def __init__(self, snapshot: Callable[[], StateSnapshot]):
        self.snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        state = self.snapshot()
        jobs = GaugeMetricFamily("connector_jobs", "Jobs in the state store by state and outcome",
                                 labels=["state", "outcome"])
        for (job_state, outcome), count in sorted(state.jobs.items()):
            jobs.add_metric([job_state, outcome], count)
        yield jobs
        parked = GaugeMetricFamily("connector_jobs_parked", "Parked jobs (waiting for an administrator) by "
                                   "provider and the step they stopped at", labels=["provider", "step"])
        for (provider, step), count in sorted(state.parked.items()):
            parked.add_metric([provider, step], count)
        yield parked
        yield CounterMetricFamily("connector_salesforce_api_calls", "Salesforce REST calls this process made "
                                  "(each counts against the org's daily allocation)", value=state.salesforce_api_calls)
        if state.salesforce_usage is not None:
            used, allocation = state.salesforce_usage
            yield GaugeMetricFamily("connector_salesforce_api_usage_calls", "The org's API calls over its rolling "
                                    "24 hours, as Salesforce last reported", value=used)
            yield GaugeMetricFamily("connector_salesforce_api_allocation_calls", "The org's daily API allocation, "
                                    "as Salesforce last reported", value=allocation)
        yield GaugeMetricFamily("connector_salesforce_api_budget_ratio", "The share of the allocation over which "
                                "the connector slows down (CONNECTOR_SALESFORCE_API_BUDGET_SHARE)",
                                value=state.budget_share)
        if state.poll_lag_seconds is not None:
            yield GaugeMetricFamily("connector_poll_lag_seconds", "Seconds since this replica last polled "
                                    "Salesforce successfully (or since it took the poller role)",
                                    value=state.poll_lag_seconds)
        yield GaugeMetricFamily("connector_ready", "1 while /readyz would answer ready at the last check",
                                value=1 if state.ready else 0)
        yield GaugeMetricFamily("connector_poller", "1 on the replica that polls Salesforce",
                                value=1 if state.is_poller else 0)
        if state.push_state is not None:
            push = GaugeMetricFamily("connector_push_state", "1 for the change-event source's current state",
                                     labels=["state"])
            for name in PUSH_STATES:
                push.add_metric([name], 1 if state.push_state == name else 0)
            yield push
        info = GaugeMetricFamily("connector_replica_info", "This replica's worker id (one series per process)",
                                 labels=["worker_id"])
        info.add_metric([state.worker_id], 1)
        yield info


class DaemonMetrics(Observer):
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.finished = Counter("connector_jobs_finished", "Jobs that ended, by outcome",
                                ["provider", "outcome"], registry=r)
        self.parked_total = Counter("connector_job_parkings", "Jobs parked for an administrator, by the step and "
                                    "the kind of error", ["provider", "step", "kind"], registry=r)
        self.sent = Histogram("connector_stage_change_to_sent_seconds", "From the opportunity entering a trigger "
                              "stage to the request created at the provider", ["provider"], registry=r,
                              buckets=_JOURNEY_BUCKETS)
        self.written_back = Histogram("connector_completion_to_writeback_seconds", "From the connector learning "
                                      "that a request was signed to the signed documents on the opportunity",
                                      ["provider"], registry=r, buckets=_JOURNEY_BUCKETS)
        self.webhooks_accepted = Counter("connector_webhooks_accepted", "Callbacks authenticated and acknowledged",
                                         ["provider"], registry=r)
        self.webhooks_refused = Counter("connector_webhooks_refused", "Callbacks answered with an error, by reason",
                                        ["provider", "reason"], registry=r)
        self.provider_requests = Counter("connector_provider_requests", "HTTP requests to providers' APIs",
                                         ["provider", "method", "endpoint", "status"], registry=r)
        self.provider_latency = Histogram("connector_provider_request_duration_seconds", "Time for a provider's "
                                          "API to answer", ["provider", "method", "endpoint"], registry=r,
                                          buckets=_LATENCY_BUCKETS)
        self.rate_limited = Counter("connector_provider_rate_limited", "Answers 429 (too many requests) from "
                                    "providers", ["provider"], registry=r)
        self.rate_waits = Histogram("connector_provider_rate_limit_wait_seconds", "Time a provider request "
                                    "waited for its turn under the provider's rate limit", ["provider"],
                                    registry=r, buckets=_WAIT_BUCKETS)
        self.last_poll = Gauge("connector_poll_last_success_timestamp_seconds", "When this replica last polled "
                               "Salesforce successfully", registry=r)
        self.push: Gauge | None = None  # registered at the first push: absent, not 0, without a push source
        self._tally: Tally[str] = Tally()  # since the last summary line (`take_tally`)
        self._tally_lock = threading.Lock()
        self._last_poll_at: float | None = None

    def watch(self, snapshot: Callable[[], StateSnapshot]) -> None:
        """Read the state gauges from `snapshot` at each scrape."""
        self.registry.register(_StateCollector(snapshot))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def take_tally(self) -> dict[str, int]:
        """What happened since the last call (jobs sent, finished..., webhooks, polls), for the summary line."""
        with self._tally_lock:
            tally, self._tally = dict(self._tally), Tally()
        return tally

    def _count(self, what: str) -> None:
        with self._tally_lock:
            self._tally[what] += 1

    @property
    def last_poll_at(self) -> float | None:
        return self._last_poll_at

    # --- Observer ----------------------------------------------------------------------------

    def job_sent(self, provider: str, seconds_since_stage_change: float | None) -> None:
        self._count("sent")
        if seconds_since_stage_change is not None:
            self.sent.labels(provider).observe(max(0.0, seconds_since_stage_change))

    def job_written_back(self, provider: str, seconds_since_completion: float | None) -> None:
        if seconds_since_completion is not None:
            self.written_back.labels(provider).observe(max(0.0, seconds_since_completion))

    def job_finished(self, provider: str, outcome: str) -> None:
        self._count(outcome)
        self.finished.labels(provider, outcome).inc()

    def job_parked(self, provider: str, step: str, kind: str) -> None:
        self._count("parked")
        self.parked_total.labels(provider, step, kind).inc()

    def webhook_accepted(self, provider: str) -> None:
        self._count("webhooks accepted")
        self.webhooks_accepted.labels(provider).inc()

    def webhook_refused(self, provider: str, reason: str) -> None:
        self._count("webhooks refused")
        self.webhooks_refused.labels(provider, reason).inc()

    def provider_call(self, provider: str, method: str, endpoint: str, status: str, seconds: float) -> None:
        self.provider_requests.labels(provider, method, endpoint, status).inc()
        self.provider_latency.labels(provider, method, endpoint).observe(seconds)
        if status == "429":
            self.rate_limited.labels(provider).inc()

    def rate_limit_wait(self, provider: str, seconds: float) -> None:
        self.rate_waits.labels(provider).observe(seconds)

    def poll_finished(self, timestamp: float) -> None:
        self._count("polls")
        self._last_poll_at = timestamp
        self.last_poll.set(timestamp)

    def push_lag(self, seconds: float) -> None:
        with self._tally_lock:
            if self.push is None:
                self.push = Gauge("connector_push_lag_seconds", "Age of the newest stage change handled from the "
                                  "push stream", registry=self.registry)
        self.push.set(seconds)


def now() -> float:
    return time.time()
