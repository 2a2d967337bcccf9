"""Which provider calls are background work: a marker the engine sets and the rate limiter reads.

Safety-net status checks are background work: a rate limiter gives them at most a share of a
provider's rate, so they never starve creates. A check woken by a callback is not background.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_background: ContextVar[bool] = ContextVar("provider_background_calls", default=False)


@contextmanager
def background_calls() -> Iterator[None]:
    """Provider calls made inside this block (in this thread) are background work."""
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


def in_background() -> bool:
    """Whether provider calls made now, in this thread, are background work."""
    return _background.get()
