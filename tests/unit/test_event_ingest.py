"""Group commit over real HTTP: callbacks in flight together are recorded in one transaction, and each is
answered only once its transaction has committed (503, and nothing recorded, when it failed)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import requests
from sqlalchemy.exc import OperationalError

from connector.inbound.webhooks import build_webhook_app
from connector.runtime.servers import serve_in_thread
from connector.store import NewEvent, Store
from tests.fakes import FakeProvider


class GatedStore(Store):
    """A real store whose first transaction waits for `gate`; `fail` names batches (1-based) that raise."""

    def __init__(self, url: str):
        super().__init__(url)
        self.gate, self.entered = threading.Event(), threading.Event()
        self.batches: list[list[str]] = []
        self.answers: list[list[bool]] = []
        self.fail: set[int] = set()

    def record_events(self, events: list[NewEvent], caps=None) -> list[bool | None]:
        self.batches.append([e.request_id for e in events])
        if len(self.batches) == 1:
            self.entered.set()
            self.gate.wait(10)
        if len(self.batches) in self.fail:
            raise OperationalError("INSERT INTO events", {}, Exception("disk I/O error"))
        answers = super().record_events(events, caps)
        self.answers.append(answers)
        return answers

    def recorded(self) -> list[str]:
        return sorted(e.request_id for e in self.unprocessed_events())


class Callbacks:
    def __init__(self, tmp_path):
        self.store = GatedStore(f"sqlite:///{tmp_path}/s.db")
        self.store.migrate()
        self.woken: list[int] = []
        self.app = build_webhook_app(store=self.store, providers={"fake": FakeProvider()}, max_body_bytes=1000,
                                     on_event=lambda: self.woken.append(1))
        self.server = serve_in_thread(self.app)
        self.pool = ThreadPoolExecutor(8)

    def send(self, request_id: str) -> Future:
        """POST an authentic callback: one event per request id, so sending an id again is a redelivery."""
        headers, body = FakeProvider().callback(request_id, "signed", event_id=f"evt-{request_id}")
        return self.pool.submit(requests.post, f"{self.server.url}/webhooks/fake", data=body, headers=headers,
                                timeout=20)

    def hold_first_transaction(self, request_id: str) -> Future:
        first = self.send(request_id)
        assert self.store.entered.wait(10)
        return first

    def wait_until_queued(self, count: int) -> None:
        deadline = time.monotonic() + 10
        while self.app.state.ingest.queued < count:
            assert time.monotonic() < deadline, "callbacks never reached the writer"
            time.sleep(0.01)

    def close(self) -> None:
        self.store.gate.set()
        self.pool.shutdown()
        self.server.stop()
        self.store.close()


@pytest.fixture
def callbacks(tmp_path):
    world = Callbacks(tmp_path)
    yield world
    world.close()


def _statuses(futures: list[Future]) -> list[int]:
    return [f.result().status_code for f in futures]


def test_callbacks_in_flight_together_are_one_transaction_each_answered_once_committed(callbacks):
    first = callbacks.hold_first_transaction("A")
    others = [callbacks.send(request_id) for request_id in ("B", "C", "D")]
    callbacks.wait_until_queued(3)
    assert not first.done() and not any(f.done() for f in others)  # nothing answered before its commit
    assert callbacks.store.recorded() == []
    callbacks.store.gate.set()
    assert _statuses([first, *others]) == [200, 200, 200, 200]
    assert len(callbacks.store.batches) == 2 and callbacks.store.batches[0] == ["A"]
    assert sorted(callbacks.store.batches[1]) == ["B", "C", "D"]
    assert callbacks.store.recorded() == ["A", "B", "C", "D"]
    assert callbacks.woken


def test_a_redelivery_in_the_same_batch_or_a_later_one_is_reported_as_a_duplicate(callbacks):
    first = callbacks.hold_first_transaction("X")
    others = [callbacks.send(request_id) for request_id in ("X", "Y", "Y")]
    callbacks.wait_until_queued(3)
    callbacks.store.gate.set()
    assert _statuses([first, *others]) == [200, 200, 200, 200]  # a redelivery is acknowledged too
    second_batch = dict(zip(callbacks.store.batches[1], callbacks.store.answers[1], strict=False))
    assert callbacks.store.answers[0] == [True]
    assert sorted(callbacks.store.answers[1]) == [False, False, True] and second_batch["X"] is False
    assert callbacks.store.recorded() == ["X", "Y"]


def test_a_failed_transaction_fails_only_its_own_callbacks_and_acknowledges_nothing_unrecorded(callbacks):
    callbacks.store.fail = {2}
    first = callbacks.hold_first_transaction("A")
    failing = [callbacks.send(request_id) for request_id in ("B", "C")]
    callbacks.wait_until_queued(2)
    callbacks.store.gate.set()
    assert _statuses([first, *failing]) == [200, 503, 503]
    after = callbacks.send("D")
    assert after.result().status_code == 200
    assert callbacks.store.recorded() == ["A", "D"]
    # the provider's retry of a refused callback is then recorded like any other
    assert callbacks.send("B").result().status_code == 200
    assert callbacks.store.recorded() == ["A", "B", "D"]
