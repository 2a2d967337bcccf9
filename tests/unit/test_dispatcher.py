"""The dispatcher's batch path, on SQLite and on PostgreSQL: many events matched and settled in a few
statements, events for unknown requests kept for the grace period and then set aside as orphans."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event as sa_event

from connector.inbound.dispatcher import EventDispatcher
from connector.store import NewEvent, Store

GRACE = timedelta(minutes=10)


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(store_url, clock):
    store = Store(store_url, clock=clock)
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def dispatcher(store, clock):
    return EventDispatcher(store=store, clock=clock, orphan_grace=GRACE)


def _job(store: Store, key: str, *, provider: str = "signrequest", request_id: str | None = None):
    job = store.create_job(entry_key=key, rule_id="r", rule={}, provider=provider,
                           opportunity_id="006000000000001AAA", opportunity={})
    job.request_id = request_id
    job.next_run_at = store.now() + timedelta(hours=1)
    store.save_job(job)
    return job


def _record(store: Store, event_id: str, request_id: str, external_id: str | None = None,
            provider: str = "signrequest") -> None:
    assert store.record_events([NewEvent(provider, event_id, request_id, external_id, "signed")]) == [True]


def _dispositions(store: Store) -> dict[str, tuple[str | None, str | None]]:
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT event_id, disposition, job_id FROM events").all()
    return {event_id: (disposition, job_id) for event_id, disposition, job_id in rows}


def test_many_events_are_matched_woken_and_marked_in_a_few_statements(store, dispatcher):
    jobs = [_job(store, f"k{n}", request_id=f"req-{n}") for n in range(60)]
    dispatcher.dispatch()
    for n, job in enumerate(jobs):
        _record(store, f"by-request-{n}", f"req-{n}")
        _record(store, f"by-id-{n}", "provider-id-unknown-to-us", external_id=job.id)
    statements: list[str] = []
    sa_event.listen(store.engine, "before_cursor_execute", lambda _c, _cur, sql, *_: statements.append(sql))
    assert dispatcher.dispatch() == 120
    assert len(statements) <= 6  # newest id, matches, stale events, wake, mark (whatever the number of events)
    assert all(store.get_job(job.id).next_run_at == store.now() for job in jobs)
    assert _dispositions(store) == {
        **{f"by-request-{n}": ("matched", job.id) for n, job in enumerate(jobs)},
        **{f"by-id-{n}": ("matched", job.id) for n, job in enumerate(jobs)},
    }
    assert dispatcher.dispatch() == 0


def test_an_event_for_no_known_request_waits_for_the_grace_period_then_is_an_orphan(store, dispatcher, clock,
                                                                                       caplog):
    job = _job(store, "k1", request_id="req-1")
    before = store.get_job(job.id)
    _record(store, "stray", "someone-elses-request")
    assert dispatcher.dispatch() == 0
    clock.advance(minutes=5)
    assert dispatcher.dispatch() == 0
    assert _dispositions(store) == {"stray": (None, None)}
    clock.advance(minutes=5)
    with caplog.at_level(logging.ERROR, logger="connector.inbound.dispatcher"):
        assert dispatcher.dispatch() == 1
    assert _dispositions(store) == {"stray": ("orphan", None)}
    assert "someone-elses-request" in caplog.text and "which no job of this connector created" in caplog.text
    assert store.get_job(job.id) == before


def test_an_event_that_raced_ahead_of_its_job_is_matched_at_the_next_dispatch(store, dispatcher):
    dispatcher.dispatch()
    _record(store, "early", "req-late")
    assert dispatcher.dispatch() == 0
    job = _job(store, "k1", request_id="req-late")  # the create call's reply is committed after the callback
    assert dispatcher.dispatch() == 1
    assert _dispositions(store) == {"early": ("matched", job.id)}
    assert store.get_job(job.id).next_run_at == store.now()


def test_a_flood_of_unknown_events_is_looked_at_again_only_at_the_periodic_recheck(store, clock):
    dispatcher = EventDispatcher(store=store, clock=clock, orphan_grace=GRACE, max_waiting=5)
    dispatcher.dispatch()
    store.record_events([NewEvent("signrequest", f"e{n}", f"req-{n}", None, "signed") for n in range(10)])
    assert dispatcher.dispatch() == 0
    job = _job(store, "k1", request_id="req-3")
    assert dispatcher.dispatch() == 0  # ten waiting events are more than max_waiting: not rechecked each time
    clock.advance(seconds=3)  # past the recheck interval, well inside the grace period
    assert dispatcher.dispatch() == 1
    assert _dispositions(store)["e3"] == ("matched", job.id)


def test_an_event_naming_another_providers_job_wakes_nothing_and_ends_an_orphan(store, dispatcher, clock):
    job = _job(store, "k1", provider="legalsign", request_id="req-1")
    before = store.get_job(job.id)
    _record(store, "steer", "req-1", external_id=job.id)  # a signrequest event naming a legalsign job
    assert dispatcher.dispatch() == 0
    clock.advance(minutes=11)
    assert dispatcher.dispatch() == 1
    assert _dispositions(store) == {"steer": ("orphan", None)}
    assert store.get_job(job.id) == before


def test_a_flood_of_orphans_is_logged_with_a_count_beyond_the_first_few(store, clock, caplog):
    dispatcher = EventDispatcher(store=store, clock=clock, orphan_grace=timedelta(0))
    store.record_events([NewEvent("signrequest", f"e{n}", f"req-{n}", None, "signed") for n in range(50)])
    with caplog.at_level(logging.ERROR, logger="connector.inbound.dispatcher"):
        assert dispatcher.dispatch() == 50
    assert len(caplog.records) == 21
    assert "30 more webhook events" in caplog.records[-1].getMessage()


def test_a_backlog_larger_than_one_page_is_worked_through_in_one_dispatch(store, clock):
    dispatcher = EventDispatcher(store=store, clock=clock, orphan_grace=GRACE, page=7)
    job = _job(store, "k1", request_id="req")
    store.record_events([NewEvent("signrequest", f"e{n}", "req", None, "signed") for n in range(30)])
    assert dispatcher.dispatch() == 30
    assert set(_dispositions(store).values()) == {("matched", job.id)}
