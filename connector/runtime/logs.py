"""Logging set-up with a filter that masks every configured secret, wherever it appears."""

from __future__ import annotations

import logging
from collections.abc import Iterable

MASK = "***"


class SecretRedactor(logging.Filter):
    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def _mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self._mask(message), None
        if record.exc_text:
            record.exc_text = self._mask(record.exc_text)
        return True


def configure_logging(level: str, secrets: Iterable[str]) -> SecretRedactor:
    redactor = SecretRedactor(secrets)
    root = logging.getLogger()
    root.setLevel(level.upper())
    if not root.handlers:
        terminal = logging.StreamHandler()
        terminal.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(terminal)
    for handler in root.handlers:
        if not any(isinstance(f, SecretRedactor) for f in handler.filters):
            handler.addFilter(redactor)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # A webhook wakes the worker early; when it is already running, APScheduler skips the extra
    # run and says so at WARNING. That is the intended coalescing, not a problem.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    return redactor
