"""Callback delivery for the simulators: one worker thread posts events in order, retrying failed
deliveries on the simulator's schedule (an empty schedule means a single attempt)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

import requests


class CallbackSender:
    def __init__(self, retry_delays: tuple[float, ...], timeout: float = 5.0):
        self.retry_delays = retry_delays
        self.timeout = timeout
        self.deliveries: list[dict] = []
        self._queue: queue.Queue = queue.Queue()
        self._idle = threading.Event()
        self._idle.set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="signrequest-callbacks", daemon=True)
        self._thread.start()

    def send(self, url: str, build: Callable[[], dict], event_type: str, event_uuid: str,
             headers: dict[str, str] | None = None) -> None:
        """Queue a delivery; `build` makes the body at send time (fresh file URLs)."""
        self._idle.clear()
        self._queue.put((url, build, event_type, event_uuid, headers or {}))

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            try:
                if item is not None:
                    self._deliver(*item)
            finally:
                self._queue.task_done()

    def _deliver(self, url: str, build: Callable[[], dict], event_type: str, event_uuid: str,
                 headers: dict[str, str]) -> None:
        for attempt in range(1, len(self.retry_delays) + 2):
            status = None
            try:
                status = requests.post(url, json=build(), headers=headers, timeout=self.timeout).status_code
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
