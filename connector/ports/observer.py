"""What the engine, the webhook server and the HTTP layer report as they work, for metrics.

A narrow port of plain calls with bounded values (provider names, step names, error kinds; never an id), so
that no part below the runtime knows which metrics system listens. `Observer` itself does nothing: the parts
take it as their default, and the daemon gives them `connector.runtime.metrics.DaemonMetrics`.
"""

from __future__ import annotations


class Observer:
    def job_sent(self, provider: str, seconds_since_stage_change: float | None) -> None:
        """A request was created at the provider; how long after the opportunity entered the stage."""

    def job_written_back(self, provider: str, seconds_since_completion: float | None) -> None:
        """The signed documents are on the opportunity; how long after the connector learned of the completion."""

    def job_finished(self, provider: str, outcome: str) -> None:
        """A job ended: completed, declined, expired, cancelled, failed."""

    def job_parked(self, provider: str, step: str, kind: str) -> None:
        """A job stopped for an administrator at `step`, for an error of `kind` (connector.ports.errors)."""

    def webhook_accepted(self, provider: str) -> None:
        """A callback was authenticated and recorded (or known already) and answered 200."""

    def webhook_refused(self, provider: str, reason: str) -> None:
        """A callback was answered with an error; `reason` is one of a few fixed words."""

    def provider_call(self, provider: str, method: str, endpoint: str, status: str, seconds: float) -> None:
        """One HTTP request to a provider's API: `endpoint` is its path with ids replaced, `status` the HTTP
        status or "error" when no answer came."""

    def rate_limit_wait(self, provider: str, seconds: float) -> None:
        """A provider request waited this long for its turn under the provider's rate limit."""

    def poll_finished(self, timestamp: float) -> None:
        """A poll of Salesforce succeeded (seconds since the epoch)."""

    def push_lag(self, seconds: float) -> None:
        """How far behind the push stream of stage changes is (the age of the newest event handled)."""


NO_OBSERVER = Observer()
