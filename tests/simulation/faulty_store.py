"""The real Store, with an injection point at every commit: the process may die just before a commit or just
after it (committed, never acknowledged), or the commit may fail (nothing written).

Invariant: a fault is injected only outside the store's transactions, never inside one, so that what a crash
leaves behind is exactly the last committed state, as after a real process death.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import OperationalError

from connector.store import Store
from connector.store.receipt_chain import ReceiptChain
from tests.simulation.faults import FaultKind, SimCrash
from tests.simulation.injector import Injector

T = TypeVar("T")


class FaultyStore(Store):
    """One instance serves many runs (the schema is migrated once); `injector` is the current run's.

    Not injection points: keep_newest (the API budget shares its figure on time.monotonic, so counting it would
    tie point numbers to wall-clock time; here it only reads, the simulated org reporting no usage),
    release_leases (a graceful stop, which a crash is not), reserve_rate_slot / pause_rate (the real adapters'
    shared rate limits, which the simulated ports do not use) and prune_events (an hourly clean-up)."""

    injector: Injector | None = None
    commits = 0  # commits attempted so far: what the harness has read from the database is stale once this moves

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.receipts = _FaultyReceipts(self, self.receipts)  # type: ignore[assignment]

    def _commit(self, name: str, commit: Callable[[], T]) -> T:
        kind = self.injector.at(f"store.{name}") if self.injector else None
        if kind == FaultKind.CRASH_BEFORE:
            raise SimCrash(f"store.{name}")
        if kind == FaultKind.DB_ERROR:
            raise OperationalError(f"store.{name}", {}, Exception("simulated: database unavailable"))
        self.commits += 1
        result = commit()
        if kind == FaultKind.CRASH_AFTER:
            raise SimCrash(f"store.{name}")
        return result

    def claim_due_jobs(self, owner, **kwargs):
        return self._commit("claim_due_jobs", lambda: super(FaultyStore, self).claim_due_jobs(owner, **kwargs))

    def save_job(self, job, **kwargs):
        return self._commit("save_job", lambda: super(FaultyStore, self).save_job(job, **kwargs))

    def renew_lease(self, job, lease_seconds):
        return self._commit("renew_lease", lambda: super(FaultyStore, self).renew_lease(job, lease_seconds))

    def renew_leases(self, held, until):
        if not held:  # returns at once, without a transaction
            return super().renew_leases(held, until)
        return self._commit("renew_leases", lambda: super(FaultyStore, self).renew_leases(held, until))

    def create_job(self, **kwargs):
        return self._commit("create_job", lambda: super(FaultyStore, self).create_job(**kwargs))

    def create_jobs(self, entries):
        if not entries:  # returns at once, without a transaction: no commit to fail
            return super().create_jobs(entries)
        return self._commit("create_jobs", lambda: super(FaultyStore, self).create_jobs(entries))

    def set_value(self, key, value):
        return self._commit("set_value", lambda: super(FaultyStore, self).set_value(key, value))

    def record_events(self, events, caps=None):
        return self._commit("record_events", lambda: super(FaultyStore, self).record_events(events, caps))

    def settle_events(self, matched, orphans, **options):
        if not matched and not orphans:  # returns at once, without a transaction
            return super().settle_events(matched, orphans, **options)
        return self._commit("settle_events",
                            lambda: super(FaultyStore, self).settle_events(matched, orphans, **options))

    def wake_job(self, job_id):
        return self._commit("wake_job", lambda: super(FaultyStore, self).wake_job(job_id))

    def request_cancel(self, job_id, reason):
        return self._commit("request_cancel", lambda: super(FaultyStore, self).request_cancel(job_id, reason))


class _FaultyReceipts:
    """The receipt chain's writes as injection points too (issue, keep_pdf, attached); reads go straight through."""

    def __init__(self, store: FaultyStore, chain: ReceiptChain):
        self._store = store
        self._chain = chain

    def issue(self, job_id, seal):
        return self._store._commit("receipts.issue", lambda: self._chain.issue(job_id, seal))

    def keep_pdf(self, job_id, pdf):
        return self._store._commit("receipts.keep_pdf", lambda: self._chain.keep_pdf(job_id, pdf))

    def attached(self, job_id):
        return self._store._commit("receipts.attached", lambda: self._chain.attached(job_id))

    def __getattr__(self, name):
        return getattr(self._chain, name)
