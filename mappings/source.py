"""The mappings in force, reloaded when the file changes.

An edit that does not validate is refused with its located problems logged, and the last valid
mappings stay in force. Jobs already started keep the rule they started with (it is stored on
the job), so a reload never changes a signing in flight.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mappings.loader import MappingError, load_mapping
from mappings.models import MappingFile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReloadResult:
    """The last load of the mapping file: at start, or the last edit seen (the admin page shows it)."""

    at: datetime
    ok: bool
    problems: tuple[str, ...] = ()


class MappingSource:
    def __init__(self, path: Path | None, initial: MappingFile | None = None,
                 check: Callable[[MappingFile], None] = lambda _m: None, providers: Collection[str] | None = None):
        self.path = path
        self._providers = providers
        self._check = check
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._current = initial if initial is not None else self._load()
        self.last_reload = ReloadResult(at=datetime.now(UTC), ok=True)

    @property
    def current(self) -> MappingFile:
        with self._lock:
            return self._current

    def _file_stamp(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_size)

    def _load(self) -> MappingFile:
        assert self.path is not None
        mapping = load_mapping(self.path, self._providers)
        self._check(mapping)
        return mapping

    def reload_if_changed(self) -> bool:
        """Load the file again if it changed; True when new mappings took effect."""
        stamp = self._file_stamp()
        if self.path is None or stamp is None or stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            mapping = self._load()
        except MappingError as exc:
            for problem in exc.problems:
                log.error("mapping edit refused, previous mappings stay in force: %s", problem)
            self.last_reload = ReloadResult(at=datetime.now(UTC), ok=False, problems=tuple(map(str, exc.problems)))
            return False
        except Exception as exc:  # noqa: BLE001 - e.g. a provider check; the old rules stay
            log.error("mapping edit refused, previous mappings stay in force: %s: %s", self.path, exc)
            self.last_reload = ReloadResult(at=datetime.now(UTC), ok=False, problems=(f"{self.path}: {exc}",))
            return False
        with self._lock:
            self._current = mapping
        self.last_reload = ReloadResult(at=datetime.now(UTC), ok=True)
        log.info("mappings reloaded from %s: %d rule(s), stages %s", self.path, len(mapping.rules),
                 ", ".join(mapping.stages()))
        return True
