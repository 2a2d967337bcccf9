"""The checks behind /readyz: the database answers, the mapping rules are loaded, Salesforce accepts the
connector's login, each configured provider's API answers. Load balancers ask every few seconds, so the
results are kept for `cache_seconds`; a check that starts or stops failing is logged once, with its reason."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class ReadinessChecks:
    def __init__(self, checks: Mapping[str, Callable[[], None]], *, cache_seconds: float = 15.0,
                 clock: Callable[[], float] = time.monotonic):
        """Each check returns when it passes and raises (with a message for the log) when it fails."""
        self.checks = dict(checks)
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._results: dict[str, bool] = {}
        self._checked_at = float("-inf")

    def __call__(self) -> dict[str, bool]:
        with self._lock:
            if self.clock() - self._checked_at >= self.cache_seconds:
                self._results = {name: self._run(name, check) for name, check in self.checks.items()}
                self._checked_at = self.clock()
            return dict(self._results)

    @property
    def last(self) -> dict[str, bool]:
        """The results of the last run, without running the checks."""
        return dict(self._results)

    def _run(self, name: str, check: Callable[[], None]) -> bool:
        was = self._results.get(name, True)
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure makes the replica not ready; the log says why
            if was:
                log.warning("not ready: the %s check failed: %s", name, str(exc) or type(exc).__name__)
            return False
        if not was:
            log.info("the %s check passes again", name)
        return True
