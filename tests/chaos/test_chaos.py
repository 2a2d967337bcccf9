"""Chaos: the daemon as a separate process, SIGKILLed at random moments and restarted, while a bot signs.

At the end every signing is attached exactly once: no duplicate provider request, no duplicate File
or Task, no lost completion. Each run draws its fault mix at random from a seed (tests/chaos/mix.py): CI runs
three fresh seeds, each printed with the command that replays it. `CONNECTOR_CHAOS_SEEDS=a,b` runs those
seeds; soak mode is

    CONNECTOR_CHAOS_SEEDS=7 CONNECTOR_CHAOS_SIGNINGS=1000 CONNECTOR_CHAOS_KILLS=100 \
    CONNECTOR_CHAOS_POLL_SECONDS=3 CONNECTOR_CHAOS_STATUS_CHECK_MINUTES=0.5 pytest tests/chaos -s

and prints the same figures. A fault plan of your own (the `--faults` SPEC of `run_connector.py sandbox`,
see sandbox/faultspec.py) replaces the drawn mix (`none`: no faults), e.g.

    CONNECTOR_CHAOS_FAULTS='seed=1; signrequest POST /api/v1/signrequest-quick-create/: 5xx=0.05 429=0.05
    timeout=0.03 reset=0.03 hold=3; salesforce: session_expiry_every=150 limit_exceeded=0.005;
    signrequest webhooks: drop=0.1 duplicate=0.1 delay=0.05 reorder=0.05 delay_seconds=5' pytest tests/chaos -s

with the daemon's provider and Salesforce timeouts at CONNECTOR_CHAOS_CLIENT_TIMEOUT_SECONDS (default 2
with faults), so a held reply (`hold=3`) times out. CONNECTOR_CHAOS_KILL_GAP_SECONDS (default 1.2) is the
longest random pause between two kills; raise it to spread the kills over a long soak.
"""

from __future__ import annotations

import os
import random
import secrets
import sqlite3
import threading
import time
from collections import Counter

import pytest

from connector.runtime.servers import free_port
from sandbox.runner import injected_faults, settings_env, start_simulators
from tests.chaos.mix import draw_mix
from tests.chaos.processes import DaemonProcess, sign_everything
from tests.chaos.receipts import chain_problems, ended_with_receipt
from tests.e2e.deals import make_deal

SIGNINGS = int(os.environ.get("CONNECTOR_CHAOS_SIGNINGS", "100"))
POLL_SECONDS = float(os.environ.get("CONNECTOR_CHAOS_POLL_SECONDS", "0.5"))
STATUS_CHECK_MINUTES = float(os.environ.get("CONNECTOR_CHAOS_STATUS_CHECK_MINUTES", "0.02"))
KILLS = int(os.environ.get("CONNECTOR_CHAOS_KILLS", "10"))
DEADLINE = float(os.environ.get("CONNECTOR_CHAOS_DEADLINE_SECONDS", "420"))
OWN_FAULTS = os.environ.get("CONNECTOR_CHAOS_FAULTS") or None
SEEDS = [seed.strip() for seed in os.environ.get("CONNECTOR_CHAOS_SEEDS", "").split(",") if seed.strip()] \
    or [secrets.token_hex(3) for _ in range(3)]
KILL_GAP = float(os.environ.get("CONNECTOR_CHAOS_KILL_GAP_SECONDS", "1.2"))


def _fault_plan(seed: str) -> str | None:
    if OWN_FAULTS:
        return None if OWN_FAULTS.strip().lower() == "none" else OWN_FAULTS
    return draw_mix(seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_sigkill_at_random_never_duplicates_or_loses_a_signing(tmp_path, seed):
    random.seed(f"chaos:{seed}")
    faults = _fault_plan(seed)
    client_timeout = float(os.environ.get("CONNECTOR_CHAOS_CLIENT_TIMEOUT_SECONDS", "2" if faults else "30"))
    replay = (f"CONNECTOR_CHAOS_SEEDS={seed} CONNECTOR_CHAOS_SIGNINGS={SIGNINGS} CONNECTOR_CHAOS_KILLS={KILLS} "
              "pytest tests/chaos -s" + (" (with the same CONNECTOR_CHAOS_FAULTS)" if OWN_FAULTS else ""))
    print(f"\nchaos seed {seed}; replay: {replay}\nfault mix: {faults}")
    webhook_port = free_port()
    sandbox = start_simulators(
        tmp_path, webhook_port=webhook_port, seed=False, poll_interval_seconds=POLL_SECONDS, poll_overlap_seconds=5,
        work_interval_seconds=0.2, status_check_minutes=STATUS_CHECK_MINUTES, job_lease_seconds=2, retry_base_seconds=0.2,
        mappings_reload_seconds=60, log_level="WARNING", faults=faults,
        provider_timeout_seconds=client_timeout, salesforce_timeout_seconds=client_timeout)
    sandbox.signrequest.sender.retry_delays = (0.05,)
    opportunities = [make_deal(sandbox.salesforce, f"Chaos {n:04d}") for n in range(SIGNINGS)]
    for opportunity_id in opportunities:
        sandbox.salesforce.set_stage(opportunity_id, "Contract Sent")
    env = {**os.environ, **settings_env(sandbox.settings), "REQUESTS_CA_BUNDLE": str(sandbox.ca_file)}
    daemon = DaemonProcess(env, tmp_path / "daemon.log")
    stop, signed = threading.Event(), Counter()
    bot = threading.Thread(target=sign_everything, args=(sandbox.signrequest, stop, signed), daemon=True)
    started, kills = time.monotonic(), 0

    def completed() -> int:  # written back Completed, and its receipt attached
        return ended_with_receipt(sandbox.salesforce)

    try:
        daemon.start()
        bot.start()
        while time.monotonic() - started < DEADLINE and completed() < SIGNINGS:
            time.sleep(random.uniform(0.2, KILL_GAP) if kills < KILLS else 0.5)
            if kills < KILLS:
                daemon.kill()
                kills += 1
                daemon.start()
        done_at = time.monotonic() - started
    finally:
        stop.set()
        daemon.stop()
        bot.join(timeout=5)
        sandbox.stop()

    salesforce, signrequest = sandbox.salesforce, sandbox.signrequest
    external_ids = Counter(d["external_id"] for d in signrequest.documents())
    jobs = sqlite3.connect(tmp_path / "connector.db").execute("SELECT opportunity_id, state FROM jobs").fetchall()
    files = Counter((f["filename"], o) for o in opportunities for f in salesforce.files_on(o))
    tasks = Counter((t["Subject"], o) for o in opportunities for t in salesforce.tasks_on(o))
    lost = SIGNINGS - completed()
    figures = {
        "signings": SIGNINGS, "kills": kills, "seconds": round(done_at, 1),
        "provider requests": signrequest.create_calls, "duplicate requests": signrequest.create_calls - len(external_ids),
        "duplicate files": sum(n - 1 for n in files.values() if n > 1),
        "duplicate tasks": sum(n - 1 for n in tasks.values() if n > 1), "lost completions": lost,
        "salesforce calls": salesforce.total_api_calls,
    }
    if faults:
        figures["faults injected"] = injected_faults(sandbox)
        figures["callbacks posted"] = len(signrequest.deliveries)
    print("\nchaos figures:", figures)
    with open(tmp_path / "daemon.log", "rb") as log:
        tail = log.read()[-3000:].decode(errors="replace")
    assert kills >= KILLS
    assert lost == 0, f"{lost} signings not completed after {DEADLINE}s (replay: {replay}); daemon log tail:\n{tail}"
    assert signrequest.create_calls == SIGNINGS and set(external_ids.values()) == {1}, f"replay: {replay}"
    assert len(jobs) == SIGNINGS and len({o for o, _ in jobs}) == SIGNINGS, f"replay: {replay}"
    assert figures["duplicate files"] == 0 and figures["duplicate tasks"] == 0, f"replay: {replay}"
    assert all(files[("Quote Q-9001 - signed.pdf", o)] == 1 and files[("Quote Q-9001 - evidence.pdf", o)] == 1
               for o in opportunities), f"replay: {replay}"
    assert chain_problems(salesforce, opportunities) == [], f"replay: {replay}"
