"""The Salesforce API budget: keep the connector's calls under a share of the org's daily allocation.

Salesforce reports the org's usage on every REST reply (`Sforce-Limit-Info: api-usage=used/allocation`,
over a rolling 24 hours). At or above `share` of the allocation, the work that can wait does: polls
come `slowdown` times less often, and jobs whose next step calls Salesforce are rescheduled with their
state kept, so nothing is lost. Provider-side work (status checks, cancels) goes on. Once the connector
has made no call for `refresh_seconds`, one cheap call refreshes the figure, so that usage falling
(old calls leaving the 24 hours) is seen and the held work resumes.

Replicas share one figure: the org's allocation is one. Each replica keeps the latest usage it read (with the
time it read it) in the database, where a newer figure from another replica replaces it (every
`sync_seconds`); each decision uses the newest figure any replica has seen. So a replica that has made no call
lately still stops when the others have spent the budget, and only the poller refreshes the figure with
`GET /limits` when no replica has had a reply for `refresh_seconds`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from connector.ports.crm import CRM, CRMError
from connector.store import Store

log = logging.getLogger(__name__)
STATE_KEY = "salesforce_api_budget"
USAGE_KEY = "salesforce_api_usage"  # the newest usage any replica read: {"used", "allocation", "observed_at"}


class ApiBudget:
    def __init__(self, *, crm: CRM, store: Store, clock: Callable[[], datetime], share: float,
                 poll_interval: float, slowdown: float, refresh_seconds: float, sync_seconds: float = 2.0):
        self.crm = crm
        self.store = store
        self.clock = clock
        self.share = share
        self.poll_interval = poll_interval
        self.slowdown = slowdown
        self.refresh_seconds = refresh_seconds
        self.sync_seconds = sync_seconds
        self._last_poll: datetime | None = None
        self._was_over = False
        self._lock = threading.Lock()
        self._local_seen: tuple | None = None  # (usage, calls) of this replica's client when last looked at
        self._local_at = clock()  # when that last changed: this replica's latest reply from Salesforce
        self._shared: dict | None = None  # the newest figure in the database, as of the last sync
        self._synced_at = float("-inf")  # time.monotonic() of the last sync

    def usage(self) -> tuple[int, int] | None:
        """(used, allocation): the newest figure read by this replica or by any other."""
        local_usage, local_at = self._observe_local()
        shared = self._shared_figure()
        if shared is not None and (local_usage is None or shared["observed_at"] > local_at.timestamp()):
            return shared["used"], shared["allocation"]
        return local_usage

    def _observe_local(self) -> tuple[tuple[int, int] | None, datetime]:
        usage, calls = self.crm.api_usage, self.crm.api_calls
        with self._lock:
            if (usage, calls) != self._local_seen:
                self._local_seen, self._local_at = (usage, calls), self.clock()
            return usage, self._local_at

    def _shared_figure(self, *, now: bool = False) -> dict | None:
        """The newest figure in the database, after handing it ours if ours is newer; at most every sync_seconds
        (decisions are taken on every job step), or `now`."""
        if not now and time.monotonic() - self._synced_at < self.sync_seconds:
            return self._shared
        usage, at = self._observe_local()
        self._synced_at = time.monotonic()
        mine = {"used": usage[0], "allocation": usage[1], "observed_at": at.timestamp()} if usage else None
        try:
            stored = self.store.keep_newest(USAGE_KEY, mine, stamp="observed_at")
        except Exception as exc:  # noqa: BLE001 - this replica's own figure serves meanwhile
            log.warning("could not share the Salesforce API usage through the database: %s", exc)
            return self._shared
        self._shared = stored
        return stored

    def _last_reply_at(self) -> datetime:
        """When a replica last heard from Salesforce (any reply tells the usage), as far as this one knows."""
        _, local_at = self._observe_local()
        shared = self._shared_figure()
        if shared is None:
            return local_at
        return max(local_at, datetime.fromtimestamp(shared["observed_at"], tz=local_at.tzinfo))

    def over(self) -> bool:
        usage = self.usage()
        over = usage is not None and usage[1] > 0 and usage[0] >= self.share * usage[1]
        if over != self._was_over:
            self._was_over = over
            if usage is not None and over:
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

    def refresh_if_quiet(self, *, may_call: bool = True) -> None:
        """Share this replica's figure now; and if no replica has heard from Salesforce for `refresh_seconds`,
        ask it for the usage (`may_call`: only one replica, the poller, does)."""
        self._shared_figure(now=True)
        if may_call and self.clock() - self._last_reply_at() >= timedelta(seconds=self.refresh_seconds):
            try:
                self.crm.refresh_api_usage()
            except CRMError as exc:  # the reply's Sforce-Limit-Info header was read all the same
                log.info("Salesforce API usage check failed: %s", exc.message)
            self._observe_local()
            with self._lock:
                self._local_at = self.clock()  # a failed call counts too: the next one is a full spell away
            self._shared_figure(now=True)
        self.publish()

    def report(self) -> dict:
        usage = self.usage()
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
