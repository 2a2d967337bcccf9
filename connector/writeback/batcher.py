"""Writebacks from many jobs at once, sent together: a CRM in front of another CRM.

Engine workers call `apply` from their own threads. A writeback that finds nothing else on its way to
Salesforce goes at once, alone, as it would without this class. One that arrives while another call is in
flight joins a batch that leaves when it is full, when the calls ahead of it have landed, or at the latest
`linger_seconds` after it opened, as one `apply_many` (a Composite call for several opportunities). So a
batch waits no longer than the call ahead takes (Salesforce's latency, not the linger), and at most one
batch fills while calls are on their way. Each caller gets its own result, or its own error raised.

Crash safety is unchanged: the engine marks `pending_effect` before `apply` and, after an interruption,
asks `missing_parts` (passed straight through) what is not in Salesforce yet.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime

from connector.ports.crm import CRM, NOT_SENT, Blob, CRMError, Opportunity, PollResult, Writeback, WritebackResult
from connector.ports.errors import ErrorKind
from connector.ports.send_deadline import SendWindow, current_window, sending_until

log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Ticket:
    writeback: Writeback
    window: SendWindow | None = field(default_factory=current_window)
    done: threading.Event = field(default_factory=threading.Event)
    result: WritebackResult | None = None
    error: BaseException | None = None

    def settle(self, outcome: WritebackResult | BaseException) -> None:
        if isinstance(outcome, BaseException):
            self.error = outcome
        else:
            self.result = outcome
        self.done.set()

    def outcome(self) -> WritebackResult:
        self.done.wait()
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


@dataclass(eq=False)
class _Batch:
    deadline: float
    tickets: list[_Ticket] = field(default_factory=list)
    sealed: bool = False


class WritebackBatcher(CRM):
    def __init__(self, inner: CRM, *, linger_seconds: float = 0.4, max_batch: int = 12):
        self.inner = inner
        self.linger_seconds = linger_seconds
        self.max_batch = max(1, max_batch)
        self._lock = threading.Condition()
        self._open: _Batch | None = None  # the batch writebacks join now
        self._in_flight = 0  # apply / apply_many calls on their way to Salesforce

    # --- writing -------------------------------------------------------------------------------

    def apply(self, writeback: Writeback) -> WritebackResult:
        ticket = _Ticket(writeback)
        with self._lock:
            if self._open is not None:
                self._join(self._open, ticket)
                batch = None  # its opener sends it
            elif self._in_flight == 0 or self.linger_seconds <= 0 or self.max_batch == 1:
                batch = _Batch(deadline=0.0, tickets=[ticket], sealed=True)
                self._in_flight += 1
            else:
                batch = self._open = _Batch(deadline=time.monotonic() + self.linger_seconds)
                self._join(batch, ticket)
                self._linger(batch)
        if batch is not None:
            self._send(batch)
        return ticket.outcome()

    def flush(self) -> None:
        """Send the open batch now rather than at the end of its linger, and every later writeback at once (the
        daemon is stopping: what is in flight should land before it exits)."""
        with self._lock:
            self.linger_seconds = 0
            if self._open is not None:
                self._seal(self._open)

    def apply_many(self, writebacks: Sequence[Writeback]) -> list[WritebackResult | CRMError]:
        return self.inner.apply_many(writebacks)

    def _join(self, batch: _Batch, ticket: _Ticket) -> None:
        batch.tickets.append(ticket)
        if len(batch.tickets) >= self.max_batch:
            self._seal(batch)

    def _seal(self, batch: _Batch) -> None:
        batch.sealed = True
        if self._open is batch:
            self._open = None
        self._lock.notify_all()

    def _linger(self, batch: _Batch) -> None:
        """The opener of a batch waits (the lock is free meanwhile) until the batch is full or due."""
        while not batch.sealed and (left := batch.deadline - time.monotonic()) > 0:
            self._lock.wait(left)
        self._seal(batch)
        self._in_flight += 1

    def _send(self, batch: _Batch) -> None:
        outcomes: list[WritebackResult | BaseException] | None = None
        try:
            outcomes = self._outcomes(batch)
        except Exception as exc:  # noqa: BLE001 - every caller must hear of it, each with its own error
            outcomes = [_own_error(exc) for _ in batch.tickets]
        finally:
            with self._lock:
                self._in_flight -= 1
                if self._in_flight == 0 and self._open is not None:
                    self._seal(self._open)  # the call ahead landed: the batch that filled meanwhile goes now
            if outcomes is None:  # interrupted (SystemExit, say): nobody may be left waiting
                outcomes = [CRMError("the writeback was interrupted", kind=ErrorKind.TRANSIENT) for _ in batch.tickets]
            for ticket, outcome in zip(batch.tickets, outcomes, strict=True):
                ticket.settle(outcome)

    def _outcomes(self, batch: _Batch) -> list[WritebackResult | BaseException]:
        """Each ticket's outcome. A writeback whose deadline (connector.ports.send_deadline) passed while it waited is
        not sent; the others leave within the earliest deadline among them."""
        outcomes: dict[int, WritebackResult | BaseException] = {}
        going: list[int] = []
        for index, ticket in enumerate(batch.tickets):
            if ticket.window is not None and ticket.window.closed() is not None:
                outcomes[index] = CRMError("the writeback was not sent: it waited past its deadline",
                                           code=NOT_SENT, kind=ErrorKind.BACKPRESSURE)
            else:
                going.append(index)
        windows = [w for w in (batch.tickets[i].window for i in going) if w is not None]
        with sending_until(lambda: min(w.deadline() for w in windows), windows[0].clock) if windows \
                else nullcontext():
            outcomes.update(zip(going, self._send_together([batch.tickets[i].writeback for i in going]),
                                strict=True))
        return [outcomes[index] for index in range(len(batch.tickets))]

    def _send_together(self, writebacks: list[Writeback]) -> list[WritebackResult | BaseException]:
        if not writebacks:
            return []
        if len(writebacks) == 1:  # exactly what `apply` does without this class, errors included
            try:
                return [self.inner.apply(writebacks[0])]
            except Exception as exc:  # noqa: BLE001 - raised again in the caller's thread
                return [exc]
        log.debug("%d writebacks leave together", len(writebacks))
        outcomes: list[WritebackResult | BaseException] = list(self.inner.apply_many(writebacks))
        if len(outcomes) != len(writebacks):
            raise RuntimeError(f"apply_many returned {len(outcomes)} results for {len(writebacks)} writebacks")
        return outcomes

    # --- everything else goes straight through ---------------------------------------------------

    def poll_opportunities(self, stages: Sequence[str], modified_since: datetime | None,
                           fields: Sequence[str] = ()) -> PollResult:
        return self.inner.poll_opportunities(stages, modified_since, fields)

    def get_opportunity(self, opportunity_id: str, fields: Sequence[str] = ()) -> Opportunity | None:
        return self.inner.get_opportunity(opportunity_id, fields)

    def download_file(self, version_id: str) -> Blob:
        return self.inner.download_file(version_id)

    def file_versions(self, opportunity_id: str, checksums: Sequence[str]) -> dict[str, str]:
        return self.inner.file_versions(opportunity_id, checksums)

    def missing_parts(self, writeback: Writeback) -> Writeback:
        return self.inner.missing_parts(writeback)

    @property
    def api_calls(self) -> int:
        return self.inner.api_calls

    @property
    def api_usage(self) -> tuple[int, int] | None:
        return self.inner.api_usage

    def refresh_api_usage(self) -> None:
        self.inner.refresh_api_usage()

    def record_url(self, object_name: str, record_id: str) -> str | None:
        return self.inner.record_url(object_name, record_id)


def _own_error(exc: Exception) -> CRMError:
    """A failure of the whole batch, as a separate exception for each caller (one object raised in many
    threads would share its traceback)."""
    if isinstance(exc, CRMError):
        error = exc.copied()
    else:
        error = CRMError(f"the batched writeback failed: {type(exc).__name__}: {exc}", kind=ErrorKind.TRANSIENT,
                         code="UNEXPECTED")
    error.__cause__ = exc
    return error
