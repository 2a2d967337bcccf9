"""The side effect a job marked before making it (`Job.pending_effect`), as stored in the jobs table.

The stored strings are those of every earlier version: "create", "writeback:<step>", "reminder:<n>".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Effect(StrEnum):
    CREATE = "create"  # the request at the provider
    WRITEBACK_SENT = "writeback:sent"
    WRITEBACK_COMPLETED = "writeback:completed"
    WRITEBACK_CLOSED = "writeback:closed"
    WRITEBACK_FAILED = "writeback:failed"
    WRITEBACK_RECEIPT = "writeback:receipt"  # the signing receipt's two Files


@dataclass(frozen=True)
class Reminder:
    """The `number`th reminder (1 for the first) sent for the request."""

    number: int

    def __str__(self) -> str:
        return f"reminder:{self.number}"


PendingEffect = Effect | Reminder


def effect_to_text(effect: PendingEffect | None) -> str | None:
    return None if effect is None else str(effect)


def effect_from_text(text: str | None) -> PendingEffect | None:
    if text is None:
        return None
    kind, _, number = text.partition(":")
    if kind == "reminder":
        return Reminder(int(number))
    return Effect(text)
