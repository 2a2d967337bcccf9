"""The same exploration on PostgreSQL (SKIP LOCKED claims, its own timestamp and JSON handling), when
CONNECTOR_TEST_POSTGRES_URL names a server: each test gets a database of its own (tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.simulation.environment import SimEnvironment
from tests.simulation.explore import exhaustive, explore
from tests.simulation.faults import KNOWN_ENGINE_BUGS
from tests.simulation.harness import run
from tests.simulation.result import RunConfig

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_env(postgres_url):
    env = SimEnvironment(postgres_url)
    assert env.dialect == "postgresql"
    yield env
    env.close()


def test_random_seeds_on_postgresql(pg_env):
    summary = explore(range(300), pg_env)
    print(f"\n{summary.line()}")
    assert summary.runs == 300 and summary.faults_injected >= 300, summary.line()
    assert not summary.failures, f"{summary.line()}\n{summary.failure_report(20)}"
    assert run(RunConfig(seed=7), pg_env).replay_command().endswith("--replay 7 --postgres")


def test_every_single_fault_of_one_signing_on_postgresql(pg_env):
    known = {pair for bug in KNOWN_ENGINE_BUGS.values() for pair in (*bug.leave_out, bug.shown_by[0])}
    outcome = exhaustive("decline", pg_env)
    print(f"\n{outcome.line()}")
    assert outcome.covered == outcome.total > 100
    unexpected = [r for r in outcome.failures if (r.faults[0].kind, r.faults[0].point) not in known]
    assert not unexpected, "\n".join(r.report() for r in unexpected)
