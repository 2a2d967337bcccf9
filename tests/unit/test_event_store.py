"""The store's event batch methods, on SQLite and on PostgreSQL: record many in one INSERT, find their jobs
in one query, settle them in one transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine

from connector.store import NewEvent, Store


@pytest.fixture
def store(store_url):
    store = Store(store_url)
    store.migrate()
    yield store
    store.close()


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
