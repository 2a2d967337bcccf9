"""Long-lived PDF probe processes (`connector.pdf_probe`), shared by every thread of the daemon.

Starting a Python child per document costs about 0.13 s of CPU, which would cap a bulk load at a
dozen documents a second on two cores; a probe process that stays up answers in milliseconds.
A probe that misses its deadline is killed and replaced, and one that ran out of memory exits by
itself, so a hostile file never leaves a damaged worker behind for the next one.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from adapters.base import Blob
from connector.pdf_probe import HEADER, INLINE, PATH

log = logging.getLogger(__name__)
_ROOT = str(Path(__file__).resolve().parent.parent)


@dataclass(frozen=True)
class ProbeLimits:
    max_pages: int
    parse_seconds: float
    memory_bytes: int


class _Worker:
    def __init__(self, limits: ProbeLimits):
        # The child parses untrusted bytes: it gets none of the connector's settings (secrets among them).
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, os.environ.get("PYTHONPATH")) if p)
        cpu_seconds = int(limits.parse_seconds) + 2  # a backstop: the parent's deadline comes first
        self.process = subprocess.Popen(
            [sys.executable, "-m", "connector.pdf_probe", str(limits.memory_bytes), str(cpu_seconds)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )

    def probe(self, content: Blob, max_pages: int, deadline: float) -> dict | None:
        """The probe's answer, or None when it died or missed the deadline (it is then killed).

        A document on disk is named by its path, so its bytes never travel through the pipe (the child
        would hold them all); a small one in memory is sent as it is."""
        path = content.path
        kind, payload = (PATH, os.fsencode(path)) if path else (INLINE, content.read_bytes())
        try:
            self.process.stdin.write(HEADER.pack(kind, len(payload), max_pages))
            self.process.stdin.write(payload)
            self.process.stdin.flush()
            header = self._read(4, deadline)
            answer = self._read(struct.unpack(">I", header)[0], deadline) if header else None
        except (BrokenPipeError, OSError):
            answer = None
        if answer is None:
            self.kill()
            return None
        return json.loads(answer)

    def _read(self, size: int, deadline: float) -> bytes | None:
        fd, chunks, left = self.process.stdout.fileno(), [], size
        while left:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                return None
            chunk = os.read(fd, left)
            if not chunk:
                return None
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass


class ProbePool:
    """At most `size` probe processes for one set of limits; a caller waits for a free one."""

    def __init__(self, limits: ProbeLimits, size: int):
        self.limits = limits
        self.size = size
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._started = 0
        self._lock = threading.Lock()

    def probe(self, content: bytes | Blob) -> dict:
        content = Blob.of(content)
        deadline = time.monotonic() + self.limits.parse_seconds
        worker = self._acquire()
        answer = worker.probe(content, self.limits.max_pages, deadline)
        self._release(worker)
        if answer is not None:
            return answer
        code = worker.process.returncode
        if time.monotonic() >= deadline or code == -signal.SIGXCPU:
            return {"problem": "timeout"}
        log.info("PDF probe ended with code %s before answering", code)
        return {"problem": "memory" if code in (-signal.SIGKILL, 1) else "damaged"}

    def _acquire(self) -> _Worker:
        while True:
            with self._lock:
                try:
                    worker = self._idle.get_nowait()
                except queue.Empty:
                    if self._started < self.size:
                        self._started += 1
                        return _Worker(self.limits)
                    worker = None
            if worker is None:
                worker = self._idle.get()
            if worker is _DEAD:
                continue  # a worker died: loop to start its replacement
            if worker.alive:
                return worker
            self._forget(worker)

    def _release(self, worker: _Worker) -> None:
        if worker.alive:
            self._idle.put(worker)
        else:
            self._forget(worker)

    def _forget(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._started -= 1
        # Wake a caller blocked in _acquire so it may start a replacement.
        self._idle.put(_DEAD)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                return


class _DeadWorker:
    alive = False

    def kill(self) -> None:
        return None


_DEAD = _DeadWorker()
_pools: dict[ProbeLimits, ProbePool] = {}
_pools_lock = threading.Lock()


def probe_pdf(content: bytes | Blob, limits: ProbeLimits) -> dict:
    with _pools_lock:
        pool = _pools.get(limits)
        if pool is None:
            pool = _pools[limits] = ProbePool(limits, size=min(4, os.cpu_count() or 1))
    return pool.probe(content)
