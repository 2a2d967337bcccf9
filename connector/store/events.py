"""What the webhook server hands the store: one authenticated callback, reduced to what is kept."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NewEvent:
    provider: str
    event_id: str
    request_id: str
    external_id: str | None
    kind: str
    # Says only that the request moved on without ending (sent, viewed, one signer of several signed):
    # the engine acts on ending states alone, so the event is kept but wakes no job (no status call spent).
    informational: bool = False
    # Dated outside the adapter's replay window: authentic but late, or replayed. It may wake its job like any
    # event (at most once per wake interval); an informational one is not kept at all (it asks nothing).
    stale: bool = False

    @property
    def key(self) -> tuple[str, str]:
        """What makes a delivery a redelivery: the provider's own event id."""
        return self.provider, self.event_id


@dataclass(frozen=True)
class EventCaps:
    """What one flood of authentic-looking callbacks may store (replayed captures with fresh ids, say). Events that
    would wake a job or be set aside as orphans are counted; further ones are acknowledged and not kept."""

    per_request: int = 500  # events kept per job, or per provider request id no job has
    unmatched: int = 10_000  # events kept, in all, about requests no job has (waiting for their job, or orphans)
