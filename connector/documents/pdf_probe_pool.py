"""Long-lived PDF probe processes (`connector.documents.pdf_probe`), shared by every thread of the daemon.

Starting a Python child per document costs about 0.13 s of CPU, which would cap a bulk load at a
dozen documents a second on two cores; a probe process that stays up answers in milliseconds.
A probe that misses its deadline is killed and replaced, and one that ran out of memory exits by
itself (and is never handed another file), so a hostile file never leaves a damaged worker behind for
the next one.

Each document's verdict depends on that document alone: its deadline starts once a probe is ready
for it, not while it waits for a free probe behind slow files or for a new probe to start, and a probe
that ends without answering for a reason that is not the document's (it was on its way out) gets the
document sent again to a fresh one. When no probe can be started at all, `ProbeUnavailable` is raised:
a fault of the machine, retried later, never blamed on the file.
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

from connector.documents.pdf_probe import HEADER, INLINE, PATH, READY
from connector.ports.provider import Blob

log = logging.getLogger(__name__)
_ROOT = str(Path(__file__).resolve().parent.parent)
# A new probe imports pypdf before it is ready: a fraction of a second, much more on a machine that is busy.
STARTUP_SECONDS = 60.0


class ProbeUnavailable(RuntimeError):
    """No PDF probe process could be started or kept: nothing to do with the document being checked."""


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
            [sys.executable, "-m", "connector.documents.pdf_probe", str(limits.memory_bytes), str(cpu_seconds)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )
        assert self.process.stdin is not None and self.process.stdout is not None  # both are pipes
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        self.ready = False

    def wait_ready(self, timeout: float) -> bool:
        """Whether the probe said it is ready (pypdf imported) within `timeout` seconds."""
        if not self.ready:
            deadline = time.monotonic() + timeout
            header = self._read(4, deadline)
            answer = self._read(struct.unpack(">I", header)[0], deadline) if header else None
            self.ready = answer is not None and json.loads(answer) == READY
        return self.ready

    @property
    def idle_and_sound(self) -> bool:
        """Alive, and with nothing to say: an idle probe whose output is readable has ended (its end of
        file) or is ending, and must not be handed a document."""
        return self.alive and not select.select([self.stdout.fileno()], [], [], 0)[0]

    def probe(self, content: Blob, max_pages: int, deadline: float) -> dict | None:
        """The probe's answer, or None when it died or missed the deadline (it is then killed).

        A document on disk is named by its path, so its bytes never travel through the pipe (the child
        would hold them all); a small one in memory is sent as it is."""
        path = content.path
        kind, payload = (PATH, os.fsencode(path)) if path else (INLINE, content.read_bytes())
        try:
            self.stdin.write(HEADER.pack(kind, len(payload), max_pages))
            self.stdin.write(payload)
            self.stdin.flush()
            header = self._read(4, deadline)
            answer = self._read(struct.unpack(">I", header)[0], deadline) if header else None
        except (BrokenPipeError, OSError):
            answer = None
        if answer is None:
            self.kill()
            return None
        return json.loads(answer)

    def _read(self, size: int, deadline: float) -> bytes | None:
        fd, chunks, left = self.stdout.fileno(), [], size
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
        for stream in (self.stdin, self.stdout):
            try:
                stream.close()
            except OSError:
                pass


class ProbePool:
    """At most `size` probe processes for one set of limits; a caller waits for a free one."""

    def __init__(self, limits: ProbeLimits, size: int):
        self.limits = limits
        self.size = size
        self._idle: queue.LifoQueue[_Worker | _DeadWorker] = queue.LifoQueue()
        self._started = 0
        self._lock = threading.Lock()

    def probe(self, content: bytes | Blob) -> dict:
        content = Blob.of(content)
        for attempt in (1, 2):
            worker = self._acquire()
            # The document's own time starts now, with a ready probe: not while it waited for one.
            deadline = time.monotonic() + self.limits.parse_seconds
            answer = worker.probe(content, self.limits.max_pages, deadline)
            if answer is not None and answer.get("problem") == "memory":
                worker.kill()  # it exits after such an answer: never hand it the next document
            self._release(worker)
            if answer is not None:
                return answer
            code = worker.process.returncode
            if time.monotonic() >= deadline or code == -signal.SIGXCPU:
                return {"problem": "timeout"}
            if code == 0 and attempt == 1:
                # A probe exits 0 only when it is told to or after a "memory" answer: whatever ended it,
                # it was not this document, which goes to a fresh probe.
                log.info("PDF probe ended before answering; the document goes to a fresh one")
                continue
            log.info("PDF probe ended with code %s before answering", code)
            return {"problem": "memory" if code in (-signal.SIGKILL, 1) else "damaged"}
        raise AssertionError("unreachable: the second attempt returns")  # pragma: no cover

    def _acquire(self) -> _Worker:
        while True:
            start = False
            with self._lock:
                try:
                    worker = self._idle.get_nowait()
                except queue.Empty:
                    worker = None
                    if self._started < self.size:
                        self._started += 1
                        start = True
            if start:
                return self._start()  # outside the lock: a start takes a while, and idle probes may free up
            if worker is None:
                worker = self._idle.get()
            if isinstance(worker, _DeadWorker):
                continue  # a worker died: loop to start its replacement
            if worker.idle_and_sound:
                return worker
            self._forget(worker)

    def _start(self) -> _Worker:
        """A new probe, once ready (its slot is taken already; it is given back if the probe fails to start)."""
        try:
            worker = _Worker(self.limits)
        except OSError as exc:
            self._forget(_DEAD)
            raise ProbeUnavailable(f"the PDF reader process could not be started ({type(exc).__name__})") from None
        if not worker.wait_ready(STARTUP_SECONDS):
            self._forget(worker)
            raise ProbeUnavailable(f"the PDF reader process did not start within {STARTUP_SECONDS:g} seconds")
        return worker

    def _release(self, worker: _Worker) -> None:
        if worker.alive:
            self._idle.put(worker)
        else:
            self._forget(worker)

    def _forget(self, worker: _Worker | _DeadWorker) -> None:
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
