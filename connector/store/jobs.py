"""The job record the engine works on, separate from how it is stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from connector.store.pending_effect import PendingEffect
from connector.store.request_state import RequestState
from connector.store.timeline import TimelineEntry, entry


class JobState(StrEnum):
    NEW = "new"              # detected; documents not yet sent
    SENT = "sent"            # request exists at the provider; "sent" not yet written back
    AWAITING = "awaiting"    # waiting for signers; events or the safety-net check move it on
    COMPLETING = "completing"  # everyone signed; files and status to write back
    CLOSING = "closing"      # declined, expired or cancelled; status to write back
    RECEIPT = "receipt"      # ended and written back; the signing receipt to issue and attach
    CANCELLING = "cancelling"  # the opportunity moved to a cancel_on stage; cancel at the provider
    FAILING = "failing"      # refused before sending; the error to write back
    DONE = "done"
    PARKED = "parked"        # retries exhausted; waits for `retry`

    @property
    def is_terminal(self) -> bool:
        return self in (JobState.DONE, JobState.PARKED)


@dataclass
class Job:
    id: str
    entry_key: str
    rule_id: str
    rule: dict
    provider: str
    opportunity_id: str
    opportunity: dict
    state: JobState
    next_run_at: datetime
    created_at: datetime
    updated_at: datetime
    outcome: str | None = None
    request_id: str | None = None
    request: RequestState = field(default_factory=RequestState)  # stored in the request_ref column
    provider_state: str | None = None
    pending_effect: PendingEffect | None = None
    decline_reason: str | None = None
    last_error: str | None = None
    attempts: int = 0
    sent_at: datetime | None = None
    completed_at: datetime | None = None
    parked_from: str | None = None
    cancel_reason: str | None = None  # set only by Store.request_cancel, never by save_job
    lease_token: str | None = None  # the claim this worker holds; None when not claimed
    lease_until: datetime | None = None  # when that claim runs out, unless renewed
    # When the claim was taken over from a worker that held the job without releasing it (crashed, or its lease
    # ran out mid-step): that worker's last request left before this time.
    taken_over_at: datetime | None = None
    seen_next_run_at: datetime | None = None  # next_run_at as last read or written: a change there is a wake-up
    # Timeline entries not yet stored: the next save_job writes them in its own transaction.
    notes: list[TimelineEntry] = field(default_factory=list)

    def note(self, kind: str, detail: str, at: datetime) -> None:
        """Add a timeline entry (connector.store.timeline), stored with the job's next save."""
        self.notes.append(entry(self.id, kind, detail, at))


@dataclass(frozen=True)
class LatestJob:
    """The newest job of a rule on an opportunity, as far as the poller needs to know it."""

    id: str
    entry_key: str
    state: JobState
    outcome: str | None
