"""The Salesforce API budget: keep the connector's calls under a share of the org's daily allocation.

Salesforce reports the org's usage on every REST reply (`Sforce-Limit-Info: api-usage=used/allocation`,
over a rolling 24 hours). At or above `share` of the allocation, the work that can wait does: polls
come `slowdown` times less often, and jobs whose next step calls Salesforce are rescheduled with their
state kept, so nothing is lost. Provider-side work (status checks, cancels) goes on. Once the connector
has made no call for `refresh_seconds`, one cheap call refreshes the figure, so that usage falling
(old calls leaving the 24 hours) is seen and the held work resumes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from connector.crm import CRM, CRMError
from connector.store import Store

log = logging.getLogger(__name__)
STATE_KEY = "salesforce_api_budget"


class ApiBudget:
    def __init__(self, *, crm: CRM, store: Store, clock: Callable[[], datetime], share: float,
                 poll_interval: float, slowdown: float, refresh_seconds: float):
        self.crm = crm
        self.store = store
        self.clock = clock
        self.share = share
        self.poll_interval = poll_interval
        self.slowdown = slowdown
        self.refresh_seconds = refresh_seconds
        self._last_poll: datetime | None = None
        self._calls_seen: int | None = None
        self._quiet_since: datetime | None = None
        self._was_over = False

    def over(self) -> bool:
        usage = self.crm.api_usage
        over = usage is not None and usage[1] > 0 and usage[0] >= self.share * usage[1]
        if over != self._was_over:
            self._was_over = over
            if over:
                log.warning("Salesforce API usage %d/%d is at or over the connector's budget (%.0f%%): polling "
                            "every %.0fs and Salesforce writes wait until usage falls", *usage, self.share * 100,
                            self.current_poll_interval(over=True))
            else:
                log.info("Salesforce API usage is back under the budget: polling and writes resume")
        return over

    def current_poll_interval(self, *, over: bool | None = None) -> float:
        over = self.over() if over is None else over
        return self.poll_interval * (self.slowdown if over else 1)

    def poll_due(self) -> bool:
        """Whether the poll asked for now should run. Under the budget every poll runs (the scheduler
        ticks every `poll_interval`); over it, only those `slowdown` intervals after the last one."""
        now = self.clock()
        # Half a base interval of slack: scheduler ticks are never exactly on time.
        needed = timedelta(seconds=self.poll_interval * (self.slowdown - 0.5))
        if self.over() and self._last_poll is not None and now - self._last_poll < needed:
            return False
        self._last_poll = now
        return True

    def wait(self) -> timedelta | None:
        """How long a job's Salesforce step should wait, or None when it may run now."""
        return timedelta(seconds=self.current_poll_interval(over=True)) if self.over() else None

    def refresh_if_quiet(self) -> None:
        """Ask Salesforce for the usage when the connector has made no call for `refresh_seconds`."""
        now, calls = self.clock(), self.crm.api_calls
        if calls != self._calls_seen or self._quiet_since is None:
            self._calls_seen, self._quiet_since = calls, now
        if now - self._quiet_since >= timedelta(seconds=self.refresh_seconds):
            try:
                self.crm.refresh_api_usage()
            except CRMError as exc:  # the reply's Sforce-Limit-Info header was read all the same
                log.info("Salesforce API usage check failed: %s", exc.message)
            self._calls_seen, self._quiet_since = self.crm.api_calls, now
        self.publish()

    def report(self) -> dict:
        usage = self.crm.api_usage
        over = self.over()
        return {"used": usage[0] if usage else None, "allocation": usage[1] if usage else None,
                "budget_share": self.share, "over_budget": over,
                "poll_interval_seconds": self.current_poll_interval(over=over),
                "observed_at": self.clock().isoformat()}

    def publish(self) -> None:
        """Keep the latest report in the store, where `run_connector.py status` reads it."""
        self.store.set_value(STATE_KEY, json.dumps(self.report()))


def describe(report: dict | None) -> str:
    """One line for `run_connector.py status`."""
    if not report or report.get("used") is None:
        return "Salesforce API usage: not reported yet (the daemon records it once it has called Salesforce)"
    used, allocation, share = report["used"], report["allocation"], report["budget_share"]
    line = (f"Salesforce API usage: {used:,} of {allocation:,} calls in 24 h "
            f"({used / allocation if allocation else 1:.0%} used, budget {share:.0%}) as of {report['observed_at']}")
    if report["over_budget"]:
        line += (f"; OVER BUDGET: polling every {report['poll_interval_seconds']:.0f}s, "
                 "Salesforce writes wait until usage falls")
    return line
