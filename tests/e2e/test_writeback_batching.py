"""Writebacks of jobs advancing in several threads at once share Composite calls, over HTTP against the
simulators, and a crash right after a shared call landed attaches nothing twice."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence

from connector.ports.crm import CRM, CRMError, Writeback, WritebackResult
from connector.store import JobState
from connector.writeback.batcher import WritebackBatcher
from tests.e2e.conftest import running_e2e
from tests.e2e.deals import make_deal, sign

STAGE = "Contract Sent"


class Crash(BaseException):
    """The process dying: the engine catches Exception, not this, so nothing after it runs."""


class CrashRightAfterTheBatch(CRM):
    """The real CRM, except that the process 'dies' once a shared call has landed, before anyone hears back.
    The lone writeback sent first is held until then, so that the others pile up into one batch behind it."""

    def __init__(self, inner: CRM):
        self.inner = inner
        self.landed = threading.Event()
        self.batched: list[str] = []

    def apply(self, writeback: Writeback) -> WritebackResult:
        assert self.landed.wait(30), "no batch formed behind the first writeback"
        return self.inner.apply(writeback)

    def apply_many(self, writebacks: Sequence[Writeback]) -> list[WritebackResult | CRMError]:
        results = self.inner.apply_many(writebacks)
        assert all(isinstance(r, WritebackResult) for r in results), results
        self.batched = [w.opportunity_id for w in writebacks]
        self.landed.set()
        raise Crash

    def poll_opportunities(self, stages, modified_since, fields=()):
        return self.inner.poll_opportunities(stages, modified_since, fields)

    def get_opportunity(self, opportunity_id, fields=()):
        return self.inner.get_opportunity(opportunity_id, fields)

    def download_file(self, version_id):
        return self.inner.download_file(version_id)

    def missing_parts(self, writeback):
        return self.inner.missing_parts(writeback)


def _advance_in_threads(engine, jobs) -> list[BaseException]:
    crashes: list[BaseException] = []

    def advance(job) -> None:
        try:
            engine.advance(job)
        except Crash as crash:
            crashes.append(crash)

    threads = [threading.Thread(target=advance, args=(job,), daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads)
    return crashes


def test_a_crash_after_a_batched_writeback_landed_attaches_no_file_or_task_twice(tmp_path):
    # After the restart the writebacks are looked for once they can no longer be on their way: the Salesforce
    # timeout after the crashed worker's lease ran out, kept short here.
    with running_e2e(tmp_path, job_lease_seconds=1, retry_base_seconds=0.1, salesforce_timeout_seconds=5) as e2e:
        names = [f"Batch Deal {n}" for n in range(4)]
        opportunities = [make_deal(e2e.salesforce, name) for name in names]
        for opportunity in opportunities:
            e2e.salesforce.set_stage(opportunity, STAGE)
        e2e.daemon.run_once()
        jobs = e2e.daemon.store.list_jobs()
        assert len(jobs) == 4 and {j.state for j in jobs} == {JobState.AWAITING}
        for job, name in zip(sorted(jobs, key=lambda j: names.index(_name(e2e, j))), names, strict=True):
            sign(e2e.signrequest, job.request_id, "dana@example.com")
            sign(e2e.signrequest, job.request_id, f"eli.{name.lower().replace(' ', '')}@example.com")
        e2e.signrequest.wait_for_deliveries(timeout=5)
        e2e.daemon.dispatcher.dispatch()

        crashing = CrashRightAfterTheBatch(e2e.daemon.crm)
        e2e.daemon.engine.crm = WritebackBatcher(crashing, linger_seconds=60, max_batch=3)
        claimed = e2e.daemon.store.claim_due_jobs("test-worker", limit=10, lease_seconds=1)
        assert len(claimed) == 4
        crashes = _advance_in_threads(e2e.daemon.engine, claimed)

        assert len(crashes) == 1 and len(crashing.batched) == 3
        for opportunity in crashing.batched:  # the shared call did land, for all three
            assert e2e.salesforce.get_record("Opportunity", opportunity)["Signing_Status__c"] == "Completed"
        e2e.restart()
        e2e.settle(until=lambda: all(j.state == JobState.DONE for j in e2e.daemon.store.list_jobs()), timeout=20)

        assert {(j.state, j.outcome) for j in e2e.daemon.store.list_jobs()} == {(JobState.DONE, "completed")}
        for opportunity in opportunities:
            titles = Counter(f["title"] for f in e2e.salesforce.files_on(opportunity))
            assert titles == Counter(["Quote Q-9001", "Quote Q-9001 - signed", "Quote Q-9001 - evidence",
                                     "Quote Q-9001 - receipt", "Quote Q-9001 - receipt"])
            subjects = [t["Subject"].split(":")[0] for t in e2e.salesforce.tasks_on(opportunity)]
            assert subjects == ["Sent for signature", "Signed"]


def _name(e2e, job) -> str:
    return e2e.salesforce.get_record("Opportunity", job.opportunity_id)["Name"]
