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

    @property
    def key(self) -> tuple[str, str]:
        """What makes a delivery a redelivery: the provider's own event id."""
        return self.provider, self.event_id
