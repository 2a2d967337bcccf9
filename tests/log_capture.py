"""A logging handler that keeps only records with a traceback or at ERROR and above: what a test of hostile
input asserts never appears. Attach it to a logger that does not propagate (uvicorn's), where caplog sees
nothing."""

from __future__ import annotations

import logging


class TracebackCatcher(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(record)
