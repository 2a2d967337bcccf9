"""The one base of the connector's errors: each says what kind of failure it is, which decides what happens
next (connector.engine.job_steps keeps the table of kind -> next step)."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    TRANSIENT = "transient"        # may pass: try again after a backoff; counts as a failed attempt
    BACKPRESSURE = "backpressure"  # refused before it was processed, asked for later (a 429, a send deadline)
    PERMANENT = "permanent"        # trying again cannot help
    BAD_INPUT = "bad_input"        # the opportunity's data or the mapping must change
    CONFIG = "config"              # the connector's settings or the provider account must change


_RETRIABLE = frozenset({ErrorKind.TRANSIENT, ErrorKind.BACKPRESSURE})


class ConnectorError(Exception):
    """`message` says what failed, for people; `kind` (the class's unless given) says what to do next;
    `retry_after`, how long to wait first (seconds), when the other side said."""

    kind: ErrorKind = ErrorKind.PERMANENT

    def __init__(self, message: str, *, kind: ErrorKind | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        if kind is not None:
            self.kind = kind
        self.retry_after = retry_after

    @property
    def retriable(self) -> bool:
        return self.kind in _RETRIABLE

    @property
    def backpressure(self) -> bool:
        """Come back later: not a failed attempt."""
        return self.kind is ErrorKind.BACKPRESSURE


class PreparationError(ConnectorError):
    """Bad input on the opportunity (file, signer, mapping): written back, never retried
    until the opportunity enters the stage again."""

    kind = ErrorKind.BAD_INPUT
