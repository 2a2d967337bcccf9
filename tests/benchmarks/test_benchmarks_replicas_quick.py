"""Smoke test: `python -m benchmarks --quick --only replicas` runs replicas on PostgreSQL and writes every figure.

No timing assertions (the figures are for people), except the ones that are correctness: no duplicate request,
no 429 from a provider paced by the shared limit."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from config.settings import REPO_ROOT
from tests.conftest import POSTGRES_ENV


@pytest.mark.postgres
def test_quick_replicas_benchmark_writes_its_figures(tmp_path):
    if not os.environ.get(POSTGRES_ENV):
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} must be set in CI (see .ci/run)")
        pytest.skip(f"set {POSTGRES_ENV} to run the replicas benchmark")
    out = tmp_path / "results.json"
    run = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "replicas", "--out", str(out)],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    figures = {f["name"]: f for f in json.loads(out.read_text())["figures"]}
    for n in (1, 2):
        assert figures[f"N={n}: duplicate requests"]["value"] == 0
        assert figures[f"N={n}: 429s received / provider calls"]["value"] == 0
        assert figures[f"N={n}: Salesforce API calls per signing"]["value"] > 0
        assert figures[f"N={n}: PostgreSQL connections per replica, highest"]["value"] <= 14
    assert figures["N=2: poller SIGKILLed -> another replica polls"]["value"] is not None
