"""One simulation environment (a migrated SQLite database, emptied before each run) for the whole session, and
the figures each exploration reports, repeated at the end of the test run so that CI's log shows them."""

from __future__ import annotations

import pytest

from tests.simulation.environment import SimEnvironment

_FIGURES: list[str] = []


@pytest.fixture(scope="session")
def sim_env():
    env = SimEnvironment()
    yield env
    env.close()


@pytest.fixture
def report():
    """`report(line)`: print the line now (seen with -s) and in the run's closing summary (always seen)."""
    def say(line: str) -> None:
        print(f"\n{line}")
        _FIGURES.append(line)
    return say


def pytest_terminal_summary(terminalreporter) -> None:
    if _FIGURES:
        terminalreporter.section("deterministic simulation")
        for line in _FIGURES:
            terminalreporter.write_line(line)
