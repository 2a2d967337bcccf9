"""Each window in faults.KNOWN_ENGINE_BUGS still breaks an invariant (strict xfail): once the engine closes one,
its test here fails with XPASS, the sign to delete its entry so that the CI exploration covers it again."""

from __future__ import annotations

import pytest

from tests.simulation.explore import reproduce
from tests.simulation.faults import KNOWN_ENGINE_BUGS


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=bug.diagnosis))
    for name, bug in KNOWN_ENGINE_BUGS.items()
])
def test_known_window_is_closed(sim_env, name):
    failures = reproduce(KNOWN_ENGINE_BUGS[name], sim_env)
    assert not failures, f"{name}: {len(failures)} failing run(s), e.g.\n{failures[0].report()}"
