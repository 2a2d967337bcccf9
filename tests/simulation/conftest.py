"""One simulation environment (a migrated SQLite database, emptied before each run) for the whole session."""

from __future__ import annotations

import pytest

from tests.simulation.environment import SimEnvironment


@pytest.fixture(scope="session")
def sim_env():
    env = SimEnvironment()
    yield env
    env.close()
