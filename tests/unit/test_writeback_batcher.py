"""WritebackBatcher with real threads: concurrent writebacks share one apply_many, each caller hears its own."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest

from connector.ports.crm import CRM, CRMError, TaskEntry, Writeback, WritebackResult
from connector.ports.errors import ErrorKind
from connector.writeback.batcher import WritebackBatcher
from tests.fakes import FakeCRM

LONG = 60.0  # a linger no test waits out: batches here leave because they are full


@dataclass
class GatedCRM(FakeCRM):
    """FakeCRM whose `apply` for "opp-first" waits at the gate, so that a test can keep one call in flight."""

    gate: threading.Event = field(default_factory=threading.Event)
    entered: threading.Event = field(default_factory=threading.Event)
    singles: list[str] = field(default_factory=list)
    batches: list[list[str]] = field(default_factory=list)
    refuse: dict[str, CRMError] = field(default_factory=dict)
    broken: Exception | None = None

    def apply(self, writeback: Writeback) -> WritebackResult:
        self.singles.append(writeback.opportunity_id)
        if writeback.opportunity_id == "opp-first":
            self.entered.set()
            assert self.gate.wait(10), "the test never opened the gate"
        return super().apply(writeback)

    def apply_many(self, writebacks):
        self.batches.append([w.opportunity_id for w in writebacks])
        if self.broken:
            raise self.broken
        return [self.refuse[w.opportunity_id] if w.opportunity_id in self.refuse else WritebackResult(
            task_ids=(f"task-of-{w.opportunity_id}",)) for w in writebacks]


def _writeback(opportunity_id: str) -> Writeback:
    return Writeback(opportunity_id=opportunity_id, fields={"Signing_Status__c": "Sent"},
                     tasks=(TaskEntry(f"Sent: {opportunity_id}"),))


class Caller(threading.Thread):
    def __init__(self, batcher: WritebackBatcher, opportunity_id: str):
        super().__init__(daemon=True)
        self.batcher, self.opportunity_id = batcher, opportunity_id
        self.result: WritebackResult | None = None
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.result = self.batcher.apply(_writeback(self.opportunity_id))
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            self.error = exc

    def outcome(self) -> WritebackResult | BaseException | None:
        self.join(10)
        assert not self.is_alive(), f"apply for {self.opportunity_id} never returned"
        return self.error or self.result


def _one_in_flight(crm: GatedCRM, batcher: WritebackBatcher) -> Caller:
    first = Caller(batcher, "opp-first")
    assert crm.entered.wait(10)
    return first


def test_a_lone_writeback_is_sent_at_once_as_a_plain_apply():
    crm = GatedCRM()
    batcher = WritebackBatcher(crm, linger_seconds=LONG, max_batch=10)

    batcher.apply(_writeback("opp-1"))
    batcher.apply(_writeback("opp-2"))

    assert crm.singles == ["opp-1", "opp-2"] and crm.batches == []
    assert crm.tasks == {"opp-1": ["Sent: opp-1"], "opp-2": ["Sent: opp-2"]}


def test_writebacks_arriving_while_one_is_in_flight_leave_together_in_one_apply_many():
    crm = GatedCRM()
    batcher = WritebackBatcher(crm, linger_seconds=LONG, max_batch=3)
    first = _one_in_flight(crm, batcher)

    callers = [Caller(batcher, f"opp-{n}") for n in range(3)]
    outcomes = {c.opportunity_id: c.outcome() for c in callers}
    crm.gate.set()

    assert [sorted(batch) for batch in crm.batches] == [["opp-0", "opp-1", "opp-2"]]
    assert outcomes == {f"opp-{n}": WritebackResult(task_ids=(f"task-of-opp-{n}",)) for n in range(3)}
    assert first.outcome() == WritebackResult() and crm.singles == ["opp-first"]


def test_an_error_for_one_writeback_is_raised_to_its_caller_only():
    refused = CRMError("Salesforce refused the update of Opportunity opp-1: INVALID_FIELD", code="INVALID_FIELD")
    crm = GatedCRM(refuse={"opp-1": refused})
    batcher = WritebackBatcher(crm, linger_seconds=LONG, max_batch=3)
    _one_in_flight(crm, batcher)

    callers = [Caller(batcher, f"opp-{n}") for n in range(3)]
    outcomes = {c.opportunity_id: c.outcome() for c in callers}
    crm.gate.set()

    assert outcomes["opp-1"] is refused
    assert outcomes["opp-0"] == WritebackResult(task_ids=("task-of-opp-0",))
    assert outcomes["opp-2"] == WritebackResult(task_ids=("task-of-opp-2",))


def test_a_failed_batch_gives_each_caller_its_own_error():
    crm = GatedCRM(broken=CRMError("could not reach Salesforce", kind=ErrorKind.TRANSIENT, code="CONNECTION"))
    batcher = WritebackBatcher(crm, linger_seconds=LONG, max_batch=2)
    _one_in_flight(crm, batcher)

    callers = [Caller(batcher, f"opp-{n}") for n in range(2)]
    errors = [c.outcome() for c in callers]
    crm.gate.set()

    assert all(isinstance(e, CRMError) and (e.retriable, e.code) == (True, "CONNECTION") for e in errors)
    assert errors[0] is not errors[1]


def test_a_batch_that_does_not_fill_leaves_after_the_linger_without_waiting_for_the_call_in_flight():
    crm = GatedCRM()
    batcher = WritebackBatcher(crm, linger_seconds=0.05, max_batch=10)
    first = _one_in_flight(crm, batcher)

    second = Caller(batcher, "opp-2")
    second.join(10)
    assert not second.is_alive() and first.is_alive()  # first is still held at the gate
    crm.gate.set()

    assert crm.singles == ["opp-first", "opp-2"] and crm.batches == []
    assert first.outcome() == WritebackResult()


def test_a_batch_leaves_as_soon_as_the_call_ahead_of_it_lands_not_at_the_end_of_the_linger():
    crm = GatedCRM()
    batcher = WritebackBatcher(crm, linger_seconds=LONG, max_batch=10)
    first = _one_in_flight(crm, batcher)
    callers = [Caller(batcher, f"opp-{n}") for n in range(2)]
    while len(batcher._open.tickets if batcher._open else []) < 2:  # both joined the batch that is filling
        threading.Event().wait(0.01)

    crm.gate.set()  # the call ahead lands: the two go together now, though the batch is neither full nor due

    assert [c.outcome() for c in callers] == [WritebackResult(task_ids=(f"task-of-opp-{n}",)) for n in range(2)]
    assert [sorted(batch) for batch in crm.batches] == [["opp-0", "opp-1"]]
    assert first.outcome() == WritebackResult()


def test_flush_sends_the_open_batch_at_once_and_later_writebacks_alone():
    crm = GatedCRM()
    batcher = WritebackBatcher(crm, linger_seconds=30, max_batch=10)  # a batch would wait 30 s to fill
    first = _one_in_flight(crm, batcher)
    second = Caller(batcher, "opp-2")
    time.sleep(0.1)
    assert second.is_alive()  # lingering in the open batch
    batcher.flush()  # the daemon is stopping
    second.join(5)
    assert not second.is_alive() and second.outcome() == WritebackResult()
    third = Caller(batcher, "opp-3")  # while the first call is still in flight: alone, at once
    third.join(5)
    assert not third.is_alive()
    crm.gate.set()
    assert first.outcome() == WritebackResult()
    assert crm.singles == ["opp-first", "opp-2", "opp-3"]


def test_linger_zero_sends_every_writeback_alone():
    crm = GatedCRM()
    batcher = WritebackBatcher(crm, linger_seconds=0, max_batch=10)
    first = _one_in_flight(crm, batcher)

    others = [Caller(batcher, f"opp-{n}") for n in range(2)]
    crm.gate.set()

    assert [c.outcome() for c in [first, *others]] == [WritebackResult()] * 3
    assert sorted(crm.singles) == ["opp-0", "opp-1", "opp-first"] and crm.batches == []


def test_reads_and_missing_parts_go_straight_through():
    crm = FakeCRM(file_contents={"068A": b"%PDF"}, usage=(10, 100))
    crm.tasks["opp-1"] = ["Sent: opp-1"]
    batcher = WritebackBatcher(crm)

    assert batcher.download_file("068A").read_bytes() == b"%PDF"
    assert batcher.missing_parts(_writeback("opp-1")).tasks == ()
    assert batcher.api_usage == (10, 100) and batcher.api_calls == crm.calls == 2


@pytest.mark.parametrize("max_batch", [1, 2])
def test_no_caller_is_left_waiting_whatever_the_batch_size(max_batch):
    crm = GatedCRM()
    batcher = WritebackBatcher(crm, linger_seconds=LONG, max_batch=max_batch)
    first = _one_in_flight(crm, batcher)

    callers = [Caller(batcher, f"opp-{n}") for n in range(4)]
    outcomes = [c.outcome() for c in callers]
    crm.gate.set()

    assert all(isinstance(o, WritebackResult) for o in outcomes) and first.outcome() == WritebackResult()
    assert sorted(sum(crm.batches, []) + crm.singles) == ["opp-0", "opp-1", "opp-2", "opp-3", "opp-first"]


def test_apply_many_by_default_applies_one_by_one_and_returns_errors_in_place():
    crm = FakeCRM(fail_next_apply=CRMError("refused", code="INVALID_FIELD"))

    refused, written = CRM.apply_many(crm, [_writeback("opp-1"), _writeback("opp-2")])

    assert isinstance(refused, CRMError) and refused.code == "INVALID_FIELD"
    assert written == WritebackResult() and crm.tasks == {"opp-2": ["Sent: opp-2"]} and crm.calls == 2


def test_the_fake_crm_writes_a_batch_in_one_call():
    crm = FakeCRM()

    results = crm.apply_many([_writeback("opp-1"), _writeback("opp-2")])

    assert results == [WritebackResult(), WritebackResult()] and crm.calls == 1
    assert crm.tasks == {"opp-1": ["Sent: opp-1"], "opp-2": ["Sent: opp-2"]}
