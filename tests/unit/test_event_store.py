"""The store's event batch methods, on SQLite and on PostgreSQL: record many in one INSERT, find their jobs
in one query, settle them in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.engine import Engine

from connector.store import EventCaps, NewEvent, Store
from connector.store.models import JobRow


def _event(event_id: str, request_id: str = "req", external_id: str | None = None,
           provider: str = "signrequest") -> NewEvent:
    return NewEvent(provider=provider, event_id=event_id, request_id=request_id, external_id=external_id,
                    kind="signed")


def _job(store: Store, key: str, *, provider: str = "signrequest", request_id: str | None = None):
    job = store.create_job(entry_key=key, rule_id="r", rule={}, provider=provider,
                           opportunity_id="006000000000001AAA", opportunity={})
    job.request_id = request_id
    job.next_run_at = store.now() + timedelta(hours=1)
    store.save_job(job)
    return job


class Statements(list):
    """SQL sent by any engine (the store keeps one for event batches) once `start()` is called."""

    recording = False

    def start(self) -> None:
        self.clear()
        self.recording = True


@pytest.fixture
def statements():
    seen = Statements()

    def listener(_conn, _cursor, sql, *_):
        if seen.recording:
            seen.append(sql)

    sa_event.listen(Engine, "before_cursor_execute", listener)
    yield seen
    sa_event.remove(Engine, "before_cursor_execute", listener)


def test_a_batch_is_one_insert_and_reports_each_redelivery(store, statements):
    assert store.record_events([_event("a")]) == [True]
    statements.start()
    answers = store.record_events([_event("a"), _event("b"), _event("c"), _event("b")])
    assert answers == [False, True, True, False]  # "a" came before, the second "b" in the same batch
    assert [s.split()[0] for s in statements if s.split()[0] in ("INSERT", "UPDATE", "DELETE")] == ["INSERT"]
    assert sorted(e.event_id for e in store.unprocessed_events()) == ["a", "b", "c"]


def test_the_same_event_id_from_two_providers_is_two_events(store):
    assert store.record_events([_event("x"), _event("x", provider="legalsign")]) == [True, True]


def test_an_empty_batch_records_nothing(store):
    assert store.record_events([]) == []
    assert store.last_event_id() == 0


def test_events_are_matched_to_their_jobs_in_one_query(store, statements):
    by_id = _job(store, "k1")
    by_request = _job(store, "k2", request_id="req-2")
    other_provider = _job(store, "k3", provider="legalsign", request_id="req-3")
    store.record_events([
        _event("e1", external_id=by_id.id),
        _event("e2", request_id="req-2"),
        _event("e3", request_id="req-3"),  # a legalsign job's request id, on a signrequest event
        _event("e4", request_id="req-2", external_id=other_provider.id),  # names another provider's job
        _event("e5", request_id="unknown"),
    ])
    rows = {e.event_id: e.id for e in store.unprocessed_events()}
    last = store.last_event_id()
    statements.start()
    matches = store.pending_event_matches(up_to_id=last)
    assert len(statements) == 1
    assert matches == {rows["e1"]: by_id.id, rows["e2"]: by_request.id, rows["e3"]: None,
                       rows["e4"]: by_request.id, rows["e5"]: None}
    assert store.pending_event_matches(ids=[rows["e2"], rows["e5"]]) == {rows["e2"]: by_request.id, rows["e5"]: None}


def test_the_job_id_the_request_carried_wins_over_the_request_id(store):
    named = _job(store, "k1")
    _job(store, "k2", request_id="req-9")
    store.record_events([_event("e1", request_id="req-9", external_id=named.id)])
    [row] = store.unprocessed_events()
    assert store.pending_event_matches() == {row.id: named.id}


def test_matching_looks_only_at_the_row_id_range_and_at_unprocessed_events(store):
    job = _job(store, "k1", request_id="req")
    store.record_events([_event("e1"), _event("e2"), _event("e3")])
    first, second, third = (e.id for e in store.unprocessed_events())
    store.settle_events({}, [first])
    assert store.pending_event_matches(after_id=0, up_to_id=second) == {second: job.id}
    assert store.pending_event_matches(after_id=second, up_to_id=third) == {third: job.id}


def test_settling_wakes_matched_jobs_and_marks_every_event_in_one_transaction(store, statements):
    job = _job(store, "k1", request_id="req")
    done = _job(store, "k2", request_id="req-done")
    done.state = "done"
    store.save_job(done)
    store.record_events([_event("e1"), _event("e2", request_id="req-done"), _event("e3", request_id="nobody")])
    e1, e2, e3 = (e.id for e in store.unprocessed_events())
    statements.start()
    store.settle_events({e1: job.id, e2: done.id}, [e3])
    assert [s.split()[0] for s in statements if s.split()[0] == "UPDATE"] == ["UPDATE", "UPDATE"]
    assert store.get_job(job.id).next_run_at <= store.now()
    assert store.get_job(done.id).next_run_at > store.now()  # a finished job is not woken
    assert store.unprocessed_events() == []
    assert store.count_events() == {"matched": 2, "orphan": 1}


def test_unprocessed_events_filters_by_range_and_receipt_time(store):
    store.record_events([_event("e1"), _event("e2"), _event("e3")])
    ids = [e.id for e in store.unprocessed_events()]
    assert [e.id for e in store.unprocessed_events(after_id=ids[0], up_to_id=ids[1])] == [ids[1]]
    assert store.unprocessed_events(received_before=store.now() - timedelta(minutes=1)) == []
    assert len(store.unprocessed_events(received_before=store.now() + timedelta(minutes=1))) == 3


# --- what a flood of callbacks can cost -------------------------------------------------------

def _due(store: Store, job) -> timedelta:
    return store.get_job(job.id).next_run_at - store.now()


def _woken_at(store: Store, job) -> datetime:
    with store.engine.connect() as connection:
        value = connection.scalar(select(JobRow.woken_at).where(JobRow.id == job.id))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_events_wake_a_job_at_most_once_per_interval_and_none_is_lost(store_url):
    clock = [datetime(2026, 11, 24, 9, 0, tzinfo=UTC)]
    store = Store(store_url, clock=lambda: clock[0])
    store.migrate()
    job, other = _job(store, "k1", request_id="req"), _job(store, "k2", request_id="req-2")
    minute = timedelta(seconds=60)
    store.record_events([_event(f"e{n}") for n in range(4)] + [_event("o1", request_id="req-2")])
    e0, e1, e2, e3, o1 = (e.id for e in store.unprocessed_events())
    store.settle_events({e0: job.id}, [], wake_interval=minute)
    assert _due(store, job) == timedelta(0)  # the first event wakes the job at once
    store.claim_due_jobs("w")  # ...a worker checks its status and plans the next check in 30 minutes
    job = store.get_job(job.id)
    job.next_run_at = store.now() + timedelta(minutes=30)
    store.save_job(job, release=True)
    clock[0] += timedelta(seconds=10)
    store.settle_events({e1: job.id, o1: other.id}, [], wake_interval=minute)
    assert _due(store, job) == timedelta(seconds=50)  # held back to the end of the interval, not dropped
    assert _due(store, other) == timedelta(0)  # another job's interval is its own
    clock[0] += timedelta(seconds=20)
    store.settle_events({e2: job.id}, [], wake_interval=minute)
    assert _due(store, job) == timedelta(seconds=30)  # still one wake for the interval, whatever comes
    clock[0] += timedelta(seconds=35)  # the held-back wake is due (no worker took it yet); the interval
    store.settle_events({e3: job.id}, [], wake_interval=minute)  # after it begins there
    assert _due(store, job) == timedelta(seconds=-5)  # already due: kept as it is
    assert store.get_job(job.id).next_run_at + minute == _woken_at(store, job)
    assert store.count_events() == {"matched": 5}  # every event kept and marked: none lost
    store.close()


def test_caps_leave_out_events_beyond_each_job_each_unknown_request_and_all_unknown(store):
    known = _job(store, "k1", request_id="req-known")
    caps = EventCaps(per_request=3, unmatched=5)
    answers = store.record_events([_event(f"k{n}", request_id="req-known") for n in range(4)], caps)
    assert answers == [True, True, True, None]  # a job keeps at most per_request events
    named = store.record_events([_event("by-id", request_id="random-1", external_id=known.id)], caps)
    assert named == [None]  # ...however they name it (the job id it carried counts as the job)
    assert store.record_events([_event(f"u{n}", request_id="req-x") for n in range(4)], caps) == [True] * 3 + [None]
    assert store.record_events([_event(f"v{n}", request_id=f"req-{n}") for n in range(3)], caps) == \
        [True, True, None]  # five about requests no job has, in all
    info = NewEvent("signrequest", "viewed", "req-y", None, "signer_viewed", informational=True)
    assert store.record_events([info], caps) == [True]  # informational events wake nothing: not counted
    assert store.record_events([_event("k0", request_id="req-known")], caps) == [False]  # a redelivery still
    rows = {e.event_id: e.job_id for e in store.unprocessed_events(limit=100)}
    assert rows["k0"] == known.id and rows["u0"] is None  # matched to its job when recorded


def test_a_matched_event_no_longer_counts_as_unmatched(store, statements):
    caps = EventCaps(per_request=10, unmatched=2)
    store.record_events([_event("early-1", request_id="req-late"), _event("early-2", request_id="req-late")], caps)
    assert store.record_events([_event("stray", request_id="other")], caps) == [None]
    job = _job(store, "k1", request_id="req-late")  # the job's create reply is committed after its callbacks
    rows = {e.event_id: e.id for e in store.unprocessed_events()}
    store.settle_events({rows["early-1"]: job.id, rows["early-2"]: job.id}, [])
    statements.start()
    assert store.record_events([_event("stray", request_id="other")], caps) == [True]
    assert [s.split()[0] for s in statements if s.split()[0] in ("INSERT", "UPDATE", "DELETE")] == ["INSERT"]


def test_handled_events_older_than_the_retention_are_deleted_in_batches(store_url):
    clock = [datetime(2026, 11, 24, 9, 0, tzinfo=UTC)]
    store = Store(store_url, clock=lambda: clock[0])
    store.migrate()
    store.record_events([_event(f"old{n}", request_id=f"r{n}") for n in range(25)])
    store.settle_events({}, [e.id for e in store.unprocessed_events(limit=100)])
    clock[0] += timedelta(days=40)
    store.record_events([_event("pending-old")])  # never handled: kept, whatever its age
    clock[0] += timedelta(days=1)
    store.record_events([_event("recent")])
    store.settle_events({}, [e.id for e in store.unprocessed_events() if e.event_id == "recent"])
    assert store.prune_events(clock[0] - timedelta(days=30), batch=10) == 25
    with store.engine.connect() as connection:
        left = {row[0] for row in connection.exec_driver_sql("SELECT event_id FROM events")}
    assert left == {"pending-old", "recent"}
    assert store.prune_events(clock[0] - timedelta(days=30), batch=10) == 0
    store.close()


def test_a_stale_event_is_kept_as_a_hint_unless_it_could_not_end_anything(store):
    late_end = NewEvent("signrequest", "late-signed", "req", None, "signed", stale=True)
    late_view = NewEvent("signrequest", "late-viewed", "req", None, "signer_viewed", informational=True, stale=True)
    assert store.record_events([late_end, late_view]) == [True, False]
    assert [e.event_id for e in store.unprocessed_events()] == ["late-signed"] and store.count_events() == {
        "pending": 1}
