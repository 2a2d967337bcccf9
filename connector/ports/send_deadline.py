"""A deadline after which no request with a side effect may leave this thread.

The engine marks an effect (a create, a writeback) in the state database before it makes it, under a lease
on the job. Should the job pass to another worker (this process died, or its lease ran out), that worker
waits until the effect can no longer be on its way, then looks for it. That reasoning holds only if no
request of the effect leaves after the lease it was made under has run out: a call that waited behind a
rate limiter or a slow connection pool could otherwise reach the provider after the other worker looked,
found nothing and sent again. So the engine opens a window with `sending_until(deadline)` around the effect
(`deadline` is read at each request: a lease renewed meanwhile moves it), and every write request (any
method but GET, HEAD, OPTIONS) checks it just before it goes out: past the deadline it is not sent at all
and `SendWindowClosed` is raised, which the adapters report as "nothing was sent".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SendWindowClosed(Exception):
    """A write request was about to leave after its effect's deadline; it was not sent."""


@dataclass(frozen=True)
class SendWindow:
    deadline: Callable[[], datetime]
    clock: Callable[[], datetime]

    def closed(self) -> float | None:
        """Seconds past the deadline, or None while requests may still leave."""
        late = (self.clock() - self.deadline()).total_seconds()
        return late if late > 0 else None


_window: ContextVar[SendWindow | None] = ContextVar("send_window", default=None)


@contextmanager
def sending_until(deadline: Callable[[], datetime], clock: Callable[[], datetime]) -> Iterator[None]:
    """Write requests made inside this block (in this thread) must leave by `deadline()` on `clock`."""
    token = _window.set(SendWindow(deadline, clock))
    try:
        yield
    finally:
        _window.reset(token)


def current_window() -> SendWindow | None:
    return _window.get()


def check_may_send(method: str, where: str) -> None:
    """Raise SendWindowClosed if a write request to `where` would leave after the open window's deadline."""
    window = _window.get()
    if window is None or method.upper() in READ_METHODS:
        return
    late = window.closed()
    if late is not None:
        raise SendWindowClosed(f"{method.upper()} {where} not sent: {late:.1f}s past its effect's deadline")
