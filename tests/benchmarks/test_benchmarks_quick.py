"""Smoke test: `python -m benchmarks --quick` runs every benchmark end to end and writes every figure.

No timing assertions: the figures are for people; this only proves the harness still measures them.
"""

from __future__ import annotations

import json
import subprocess
import sys

from config.settings import REPO_ROOT

EXPECTED = {
    ("startup", "daemon ready (health answering), median"),
    ("salesforce-economy", "API calls, one isolated signing"),
    ("salesforce-economy", "API calls per signing, amortised"),
    ("bulk-trigger", "seconds until every request is created"),
    ("bulk-trigger", "sustained create rate / provider cap"),
    ("bulk-trigger", "429s received / provider calls"),
    ("bulk-trigger", "duplicate requests"),
    ("bulk-trigger", "requests created per second, no cap"),
    ("webhook-ingest", "events accepted and recorded per second"),
    ("webhook-ingest", "acknowledgement p50"),
    ("webhook-ingest", "acknowledgement p99"),
    ("completion-latency", "completion event to both Files, p50"),
    ("completion-latency", "completion event to both Files, p99"),
    ("memory", "peak RSS, 1 MB document"),
    ("memory", "RSS growth after warm-up"),
    *(("trigger-latency", f"{figure}, {label}") for label in ("push on (CDC)", "push off (poll every 5s)")
      for figure in ("stage change to request created, p50", "stage change to request created, p99",
                     "trigger-side SOQL queries per stage change")),
}


def test_quick_profile_writes_every_figure_with_a_number(tmp_path):
    out = tmp_path / "results.json"
    run = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(out.read_text())
    figures = {(f["benchmark"], f["name"]): f for f in results["figures"]}
    assert set(figures) == EXPECTED
    for key, figure in figures.items():
        assert isinstance(figure["value"], int | float) and not isinstance(figure["value"], bool), key
    assert results["profile"] == "quick"
    # the run really counted: one isolated signing costs at least its poll, download and write-backs
    assert figures[("salesforce-economy", "API calls, one isolated signing")]["value"] >= 3
    assert figures[("bulk-trigger", "duplicate requests")]["value"] == 0
    assert "salesforce-economy" in run.stdout and "webhook-ingest" in run.stdout
