"""What a log line is about (job, opportunity, rule, provider, request, step), set around each piece of work
and read by the log formatter (connector.runtime.logs), so that every line inside carries it: the JSON log
format writes it as fields. Context variables: each worker thread, and each request's task, has its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

FIELDS = ("job_id", "opportunity_id", "rule", "provider", "request_id", "step")
_current: ContextVar[dict[str, str] | None] = ContextVar("connector_log_context", default=None)


@contextmanager
def log_context(**values: str | None) -> Iterator[None]:
    """Add `values` (names from FIELDS; None leaves a name out) to the context of the lines logged inside."""
    merged = {**(_current.get() or {}), **{k: str(v) for k, v in values.items() if v is not None}}
    token = _current.set(merged)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> dict[str, str]:
    return _current.get() or {}
