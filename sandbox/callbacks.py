"""Callback delivery for the simulators: worker threads post events, retrying failed deliveries on the
simulator's schedule (an empty schedule means a single attempt). With one worker (the default) events
go out in order; with several, as real providers deliver at volume, in parallel and so in no promised
order. Each worker keeps its connection open between posts. The simulator's `Faults` may lose, repeat,
delay or reorder a callback on its way out."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

import requests

from sandbox.faults import Faults


class CallbackSender:
    def __init__(self, retry_delays: tuple[float, ...], timeout: float = 5.0, faults: Faults | None = None,
                 reorder_wait: float = 5.0, workers: int = 1):
        self.retry_delays = retry_delays
        self.timeout = timeout
        self.faults = faults
        self.reorder_wait = reorder_wait  # a held-back callback goes out alone if nothing follows it by then
        self._held: list[tuple] = []
        self._timers: list[threading.Timer] = []
        self._held_lock = threading.RLock()
        self.deliveries: list[dict] = []
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, name=f"simulator-callbacks-{n}", daemon=True)
                         for n in range(max(1, workers))]
        for thread in self._threads:
            thread.start()

    def send(self, url: str, build: Callable[[], dict], event_type: str, event_uuid: str,
             headers: dict[str, str] | None = None) -> None:
        """Queue a delivery; `build` makes the body at send time (fresh file URLs)."""
        item = (url, build, event_type, event_uuid, headers or {})
        hit = self.faults.webhook_fault(event_type) if self.faults else None
        kind = hit[1] if hit else None
        if kind == "drop":
            return
        if kind == "delay":
            self._later(hit[0].delay_seconds, [item])
            return
        with self._held_lock:
            if kind == "reorder":
                self._held.append(item)
                self._later(self.reorder_wait, [], flush=True)
                return
            self._queue.put(item)
            if kind == "duplicate":
                self._queue.put(item)
            held, self._held = self._held, []
        for earlier in held:  # overtaken by this one
            self._queue.put(earlier)

    def _later(self, seconds: float, items: list[tuple], *, flush: bool = False) -> None:
        def go() -> None:
            if flush:
                with self._held_lock:
                    items.extend(self._held)
                    self._held.clear()
            for item in items:
                self._queue.put(item)

        timer = threading.Timer(seconds, go)
        timer.daemon = True
        with self._held_lock:
            self._timers = [t for t in self._timers if t.is_alive()] + [timer]
        timer.start()

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._stop.set()
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=2)

    def _run(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                item = self._queue.get()
                try:
                    if item is not None:
                        self._deliver(session, *item)
                finally:
                    self._queue.task_done()

    def _deliver(self, session: requests.Session, url: str, build: Callable[[], dict], event_type: str,
                 event_uuid: str, headers: dict[str, str]) -> None:
        for attempt in range(1, len(self.retry_delays) + 2):
            status = None
            try:
                status = session.post(url, json=build(), headers=headers, timeout=self.timeout).status_code
            except requests.RequestException:
                status = None
            self.deliveries.append({"url": url, "event_type": event_type, "status_code": status,
                                    "attempt": attempt, "event_uuid": event_uuid})
            if status is not None and status < 500 and status != 408:
                return  # delivered, or refused for good (4xx): no retry
            if attempt > len(self.retry_delays) or self._stop.is_set():
                return
            time.sleep(self.retry_delays[attempt - 1])


class SendsCallbacks:
    """What every simulator exposes about its callbacks; it sets `self.sender`."""

    sender: CallbackSender

    @property
    def deliveries(self) -> list[dict]:
        return list(self.sender.deliveries)

    def wait_for_deliveries(self, timeout: float = 5.0) -> None:
        self.sender.wait(timeout)

    def close(self) -> None:
        self.sender.close()
