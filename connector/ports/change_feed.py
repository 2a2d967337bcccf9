"""The change feed port: record changes Salesforce pushes (Change Data Capture), in neutral types.

`adapters.salesforce.pubsub` implements it over the Pub/Sub API; the push trigger source
(`connector.triggers.push`) reads it. A position in the feed is an opaque `replay_id`: the feed resumes after
it, so a consumer that stores it only once a batch's work is committed replays, never skips.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from connector.ports.errors import ConnectorError, ErrorKind


class ChangeType(StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    UNDELETE = "UNDELETE"
    GAP_CREATE = "GAP_CREATE"
    GAP_UPDATE = "GAP_UPDATE"
    GAP_DELETE = "GAP_DELETE"
    GAP_UNDELETE = "GAP_UNDELETE"
    GAP_OVERFLOW = "GAP_OVERFLOW"
    SNAPSHOT = "SNAPSHOT"

    @property
    def is_gap(self) -> bool:
        """Salesforce could not say what changed: the records must be read again (all of them, on overflow)."""
        return self.value.startswith("GAP_")


@dataclass(frozen=True)
class RecordChange:
    """One change event's header: which records of which object changed, and which fields (API names; empty
    when the event does not say, as for gap events)."""

    entity: str
    change_type: ChangeType
    record_ids: tuple[str, ...]
    changed_fields: frozenset[str] = frozenset()

    def changed(self, field_name: str) -> bool:
        return field_name.lower() in {name.lower() for name in self.changed_fields}


@dataclass(frozen=True)
class ChangeBatch:
    """What one read of the feed brought: the changes, and the position after the last of them."""

    changes: tuple[RecordChange, ...]
    replay_id: bytes


class ChangeFeedError(ConnectorError):
    """The feed failed (stream dropped, refused, unreachable); `kind` says whether reconnecting can help."""

    kind = ErrorKind.TRANSIENT


class ReplayUnavailable(ChangeFeedError):
    """The stored position is no longer retained (events are kept for a limited time): changes since may be
    lost to the feed, and must be found another way (a catch-up poll) before the feed resumes at its tip."""


class ChangeFeed(ABC):
    @abstractmethod
    def read(self, after: bytes | None) -> Iterator[ChangeBatch]:
        """Changes after position `after` (None: from now on), a batch at a time, for as long as the
        subscription lasts; raises ChangeFeedError when it ends (ReplayUnavailable when `after` is too old).
        The first batch, empty and with no position, says the subscription has been asked for on an open
        connection (the server may still refuse it)."""

    def close(self) -> None:  # noqa: B027 - a feed without a connection has nothing to close
        """End the subscription under way from another thread; `read` then raises or returns."""

    def check(self) -> str:
        """A short description of whether the feed can be read (the topic exists and may be subscribed to);
        raises ChangeFeedError when not."""
        return "available"
