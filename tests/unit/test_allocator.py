"""The daemon's malloc arena cap (connector.runtime.allocator)."""

from __future__ import annotations

import os

from connector.runtime.allocator import limit_arenas


def test_malloc_arenas_are_capped_unless_the_environment_says(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_arenas() is False
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    if os.uname().sysname == "Linux" and os.confstr("CS_GNU_LIBC_VERSION"):
        assert limit_arenas(16) is True  # glibc's own default on 2 cores: the test process stays as it was
