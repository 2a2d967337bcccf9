"""The push source's loop, around a scripted change feed: resume from the stored position, reconnect after a
failure, and a catch-up poll (twice: at once, and once the new stream answers) when the position is too old."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from connector.ports.change_feed import ChangeBatch, ChangeFeed, ChangeFeedError, ReplayUnavailable
from connector.ports.retry import RetryPolicy
from connector.runtime.push_source import PushSource
from connector.triggers.push import REPLAY_KEY, BatchReport, stored_position


class ScriptedFeed(ChangeFeed):
    """Each read plays the next script entry: batches to yield, then an error to raise (or block until closed)."""

    def __init__(self, script):
        self.script = list(script)
        self.reads: list[bytes | None] = []
        self.closed = threading.Event()

    def read(self, after: bytes | None) -> Iterator[ChangeBatch]:
        self.reads.append(after)
        batches, error = self.script.pop(0) if self.script else ([], None)
        yield from batches
        if error:
            raise error
        self.closed.wait(5)

    def close(self) -> None:
        self.closed.set()


class RecordingIntake:
    def __init__(self, store, log):
        self.store, self.log = store, log

    def take(self, batch: ChangeBatch) -> BatchReport:
        self.log.append(("batch", batch.replay_id))
        self.store.set_value(REPLAY_KEY, batch.replay_id.hex())
        return BatchReport(events=len(batch.changes), read=0, created=0, catch_up=False)


def run(store, feed, log, until, may_run=lambda: True) -> PushSource:
    source = PushSource(feed=feed, intake=RecordingIntake(store, log), store=store,
                        catch_up=lambda: log.append(("poll", stored_position(store))), may_run=may_run,
                        on_jobs=lambda: None, clock=lambda: datetime.now(UTC),
                        retry=RetryPolicy(attempts=100, base_delay=0.01, cap=0.02, jitter=0))
    source.start()
    deadline = time.monotonic() + 5
    while not until() and time.monotonic() < deadline:
        time.sleep(0.01)
    source.stop()
    return source


def test_a_failed_stream_is_read_again_from_the_last_stored_position(store):
    log: list = []
    feed = ScriptedFeed([([ChangeBatch((), b"\x01"), ChangeBatch((), b"\x02")], ChangeFeedError("dropped")),
                         ([ChangeBatch((), b"\x03")], None)])
    run(store, feed, log, until=lambda: ("batch", b"\x03") in log)
    assert feed.reads == [None, b"\x02"]
    assert stored_position(store) == b"\x03"


def test_a_position_no_longer_retained_is_forgotten_and_polled_over(store):
    store.set_value(REPLAY_KEY, "07")
    log: list = []
    feed = ScriptedFeed([([], ReplayUnavailable("too old")), ([ChangeBatch((), b"\x20")], None)])
    run(store, feed, log, until=lambda: ("batch", b"\x20") in log)
    assert feed.reads == [b"\x07", None]
    # Polled at once, and again once the new stream answered, before its first batch was taken.
    assert log == [("poll", None), ("poll", None), ("batch", b"\x20")]


def test_a_replica_that_is_not_the_poller_does_not_subscribe(store):
    feed = ScriptedFeed([])
    states: list[str] = []
    source = PushSource(feed=feed, intake=RecordingIntake(store, []), store=store, catch_up=lambda: None,
                        may_run=lambda: False, on_jobs=lambda: None, clock=lambda: datetime.now(UTC),
                        idle_seconds=0.02)
    source.start()
    time.sleep(0.2)
    states.append(source.report()["state"])
    source.stop()
    assert feed.reads == [] and states == ["standby"]
