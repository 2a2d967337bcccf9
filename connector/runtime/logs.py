"""Logging set-up: a filter that masks every configured secret, wherever it appears, and two formats.

`text` (the default) is one line per record for a terminal. `json` is one JSON object per line, with the
context of the work under way (job, opportunity, rule, provider, request, step: connector.ports.log_context)
as fields of their own, for a log collector."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from connector.ports.log_context import current

MASK = "***"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, the work's context, and the
    traceback as `exception` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        data.update(current())  # formatted in the thread that logged, so the context is that work's own
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, ensure_ascii=False, default=str)


def formatter_for(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(level: str, secrets: Iterable[str], log_format: str = "text") -> SecretRedactor:
    redactor = SecretRedactor(secrets)
    root = logging.getLogger()
    root.setLevel(level.upper())
    if not root.handlers:
        terminal = logging.StreamHandler()
        terminal.setFormatter(formatter_for(log_format))
        root.addHandler(terminal)
    for handler in root.handlers:
        if not any(isinstance(f, SecretRedactor) for f in handler.filters):
            handler.addFilter(redactor)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # A webhook wakes the worker early; when it is already running, APScheduler skips the extra
    # run and says so at WARNING. That is the intended coalescing, not a problem.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    return redactor
