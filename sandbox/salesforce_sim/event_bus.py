"""The simulated org's event bus: change events kept for a retention window, each with a replay id.

Replay ids are 8-byte big-endian counters (opaque bytes to a client, as the real ones are). A subscription
may resume after a replay id only while no event after it has been dropped from the window; otherwise it is
refused as the real API refuses it. Fault injection: drop every open stream, turn the next changes into gap
events, replace the next change by an overflow event, publish the next change twice, or empty the window
(the stored replay ids of every client become too old).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

from sandbox.salesforce_sim.change_events import ChangeEventType, changed_fields

TOPIC_PREFIX = "/data/"


@dataclass(frozen=True)
class BusEvent:
    replay: int
    schema_id: str
    payload: bytes
    published: float


def replay_bytes(replay: int) -> bytes:
    return replay.to_bytes(8, "big")


class EventBus:
    def __init__(self, retention_seconds: float = 72 * 3600):
        self.retention_seconds = retention_seconds
        self.selected = {"Opportunity"}  # objects Change Data Capture is enabled for (Setup)
        self.types = {"Opportunity": ChangeEventType("Opportunity")}
        self.changed = threading.Condition()
        self.events: list[BusEvent] = []
        self.tip = 0
        self.dropped_upto = 0  # the newest replay id no longer retained
        self.generation = 0  # bumped to drop every open stream
        self.published = 0
        self._gaps = 0
        self._overflows = 0
        self._duplicates = 0
        self._rates = {"drop": 0.0, "gap": 0.0, "overflow": 0.0, "duplicate": 0.0}
        self._rng = random.Random(0)
        self.injected: dict[str, int] = {}

    # --- topics -------------------------------------------------------------------------------

    def entity_of(self, topic: str) -> str | None:
        """The object whose change events `topic` carries, if it is a change event topic of a selected one."""
        name = topic.removeprefix(TOPIC_PREFIX)
        if not topic.startswith(TOPIC_PREFIX) or not name.endswith("ChangeEvent"):
            return None
        entity = name.removesuffix("ChangeEvent")
        return entity if entity in self.types and entity in self.selected else None

    def schema(self, schema_id: str) -> ChangeEventType | None:
        return next((t for t in self.types.values() if t.schema_id == schema_id), None)

    # --- publishing (the org calls this after each save) ---------------------------------------

    def on_save(self, name: str, before: dict | None, record: dict) -> None:
        if name not in self.types or name not in self.selected:
            return
        if before is None:
            change_type = "CREATE"
        elif record.get("IsDeleted") and not before.get("IsDeleted"):
            change_type = "DELETE"
        else:
            change_type = "UPDATE"
        changed = changed_fields(before, record)
        if change_type == "UPDATE" and not changed - {"SystemModstamp", "LastModifiedDate", "LastModifiedById"}:
            return
        with self.changed:
            ids = [record["Id"]]
            draw = self._rng.random()
            if self._overflows or draw < self._rates["overflow"]:
                self._overflows = max(0, self._overflows - 1)
                change_type, ids, changed = "GAP_OVERFLOW", [], set()
                self._count("overflow")
            elif self._gaps or draw < self._rates["overflow"] + self._rates["gap"]:
                self._gaps = max(0, self._gaps - 1)
                change_type, changed = f"GAP_{change_type}", set()
                self._count("gap")
            copies = 2 if self._duplicates or self._rng.random() < self._rates["duplicate"] else 1
            self._duplicates = max(0, self._duplicates - 1)
            if copies == 2:
                self._count("duplicate")
            event_type = self.types[name]
            for _ in range(copies):
                payload = event_type.encode(change_type=change_type, record_ids=ids, changed=changed, values=record,
                                            commit_user=record.get("LastModifiedById") or "", sequence=self.tip + 1)
                self._append(event_type.schema_id, payload)
            if self._rng.random() < self._rates["drop"]:
                self._count("drop")
                self.generation += 1
                self.changed.notify_all()

    def _count(self, fault: str) -> None:
        self.injected[fault] = self.injected.get(fault, 0) + 1

    def _append(self, schema_id: str, payload: bytes) -> None:
        self.tip += 1
        self.published += 1
        self.events.append(BusEvent(self.tip, schema_id, payload, time.monotonic()))
        self._expire()
        self.changed.notify_all()

    def _expire(self) -> None:
        cutoff = time.monotonic() - self.retention_seconds
        while self.events and self.events[0].published < cutoff:
            self.dropped_upto = self.events.pop(0).replay

    # --- reading -------------------------------------------------------------------------------

    def resumable(self, replay: int) -> bool:
        """Whether a subscription may resume after `replay`: nothing after it has left the window."""
        with self.changed:
            self._expire()
            return self.dropped_upto <= replay <= self.tip

    def after(self, replay: int, limit: int) -> list[BusEvent]:
        with self.changed:
            self._expire()
            # Replay ids are consecutive from the oldest kept one: the events after `replay` start at an offset.
            start = max(0, replay - self.events[0].replay + 1) if self.events else 0
            return self.events[start:start + limit]

    # --- faults --------------------------------------------------------------------------------

    def set_faults(self, *, seed: str = "0", drop: float = 0.0, gap: float = 0.0, overflow: float = 0.0,
                   duplicate: float = 0.0, retention_seconds: float | None = None) -> None:
        """Faults drawn at random per change event (`sandbox.faultspec`'s `salesforce pubsub:` clause)."""
        if gap + overflow > 1:
            raise ValueError("gap and overflow are shares of the same events: together at most 1")
        with self.changed:
            self._rng = random.Random(f"pubsub:{seed}")
            self._rates = {"drop": drop, "gap": gap, "overflow": overflow, "duplicate": duplicate}
            if retention_seconds is not None:
                self.retention_seconds = retention_seconds

    def drop_streams(self) -> None:
        with self.changed:
            self.generation += 1
            self.changed.notify_all()

    def gap_next(self, count: int = 1) -> None:
        with self.changed:
            self._gaps += count

    def overflow_next(self) -> None:
        with self.changed:
            self._overflows += 1

    def duplicate_next(self, count: int = 1) -> None:
        with self.changed:
            self._duplicates += count

    def expire_all(self) -> None:
        """Every event leaves the window at once, as if the connector had been off for longer than 72 hours."""
        with self.changed:
            if self.events:
                self.dropped_upto = self.events[-1].replay
            self.events.clear()
