"""Chaos with replicas: three `run_connector.py run` processes on one PostgreSQL database, behind one load
balancer (the public URL every replica advertises), SIGKILLed at random, the poller as often as any other,
and restarted, while a bot signs and the simulators inject a fault mix drawn from a seed (tests/chaos/mix.py).

At the end every signing is attached exactly once: no duplicate provider request, no duplicate File or Task,
no lost completion. CI runs the fast mode (90 signings, 9 kills); skipped without CONNECTOR_TEST_POSTGRES_URL.
A longer run:

    CONNECTOR_CHAOS_REPLICA_SIGNINGS=600 CONNECTOR_CHAOS_REPLICA_KILLS=60 CONNECTOR_CHAOS_SEEDS=7 \
    pytest tests/chaos/test_chaos_replicas.py -s

`CONNECTOR_CHAOS_FAULTS` replaces the drawn mix as in tests/chaos/test_chaos.py (`none`: no faults).
"""

from __future__ import annotations

import os
import random
import secrets
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import create_engine, text

from connector.runtime.servers import free_port
from sandbox.balancer import Balancer
from sandbox.runner import injected_faults, settings_env, start_simulators
from tests.chaos.mix import draw_mix
from tests.chaos.processes import DaemonProcess, sign_everything
from tests.chaos.receipts import chain_problems, ended_with_receipt
from tests.e2e.deals import make_deal

REPLICAS = 3
SIGNINGS = int(os.environ.get("CONNECTOR_CHAOS_REPLICA_SIGNINGS", "90"))
KILLS = int(os.environ.get("CONNECTOR_CHAOS_REPLICA_KILLS", "9"))
DEADLINE = float(os.environ.get("CONNECTOR_CHAOS_DEADLINE_SECONDS", "420"))
KILL_GAP = float(os.environ.get("CONNECTOR_CHAOS_KILL_GAP_SECONDS", "1.5"))
OWN_FAULTS = os.environ.get("CONNECTOR_CHAOS_FAULTS") or None
SEEDS = [seed.strip() for seed in os.environ.get("CONNECTOR_CHAOS_SEEDS", "").split(",") if seed.strip()] \
    or [secrets.token_hex(3)]


class Replica(DaemonProcess):
    def __init__(self, name: str, env: dict[str, str], port: int, log_path):
        super().__init__({**env, "CONNECTOR_WEBHOOK_PORT": str(port)}, log_path, stop_seconds=40)
        self.name, self.port = name, port


def _poller(engine) -> str | None:
    from connector.runtime.leader import current_leader

    with engine.connect() as connection:
        return current_leader(connection)


@pytest.mark.postgres
@pytest.mark.parametrize("seed", SEEDS)
def test_replicas_killed_at_random_never_duplicate_or_lose_a_signing(tmp_path, postgres_url, seed):
    random.seed(f"chaos-replicas:{seed}")
    faults = None if OWN_FAULTS and OWN_FAULTS.strip().lower() == "none" else (OWN_FAULTS or draw_mix(seed))
    client_timeout = 2.0 if faults else 30.0
    replay = (f"CONNECTOR_CHAOS_SEEDS={seed} CONNECTOR_CHAOS_REPLICA_SIGNINGS={SIGNINGS} "
              f"CONNECTOR_CHAOS_REPLICA_KILLS={KILLS} pytest tests/chaos/test_chaos_replicas.py -s")
    print(f"\nchaos (replicas) seed {seed}; replay: {replay}\nfault mix: {faults}")
    ports = [free_port() for _ in range(REPLICAS)]
    balancer = Balancer([("127.0.0.1", port) for port in ports])
    sandbox = start_simulators(
        tmp_path, webhook_port=balancer.port, database_url=postgres_url, seed=False, poll_interval_seconds=0.5,
        poll_overlap_seconds=5, work_interval_seconds=0.2, status_check_minutes=0.02, job_lease_seconds=2,
        retry_base_seconds=0.2, mappings_reload_seconds=60, log_level="WARNING", faults=faults,
        provider_timeout_seconds=client_timeout, salesforce_timeout_seconds=client_timeout,
        shutdown_grace_seconds=5, workers=16)
    assert sandbox.settings.public_base_url == balancer.url  # every replica advertises the balancer
    balancer.start()
    sandbox.signrequest.sender.retry_delays = (0.05, 0.2, 0.5)
    opportunities = [make_deal(sandbox.salesforce, f"Replica Chaos {n:04d}") for n in range(SIGNINGS)]
    for opportunity_id in opportunities:
        sandbox.salesforce.set_stage(opportunity_id, "Contract Sent")
    env = {**os.environ, **settings_env(sandbox.settings), "REQUESTS_CA_BUNDLE": str(sandbox.ca_file)}
    replicas = [Replica(f"replica-{n}", env, port, tmp_path / f"replica-{n}.log") for n, port in enumerate(ports)]
    engine = create_engine(postgres_url)
    stop, signed = threading.Event(), Counter()
    bot = threading.Thread(target=sign_everything, args=(sandbox.signrequest, stop, signed), daemon=True)
    started, kills, leader_kills = time.monotonic(), 0, 0

    def completed() -> int:  # written back Completed, and its receipt attached
        return ended_with_receipt(sandbox.salesforce)

    try:
        for replica in replicas:
            replica.start()
        bot.start()
        while time.monotonic() - started < DEADLINE and completed() < SIGNINGS:
            time.sleep(random.uniform(0.3, KILL_GAP) if kills < KILLS else 0.5)
            if kills < KILLS:
                victim = random.choice(replicas)
                poller = _poller(engine)
                leader_kills += bool(poller and poller.endswith(f"/{victim.process.pid}"))
                victim.kill()
                kills += 1
                victim.start()
        done_at = time.monotonic() - started
    finally:
        stop.set()
        for replica in replicas:
            replica.stop()
        exit_codes = [replica.process.returncode for replica in replicas]
        bot.join(timeout=5)
        balancer.stop()
        sandbox.stop()

    salesforce, signrequest = sandbox.salesforce, sandbox.signrequest
    external_ids = Counter(d["external_id"] for d in signrequest.documents())
    with engine.connect() as connection:
        jobs = connection.execute(text("SELECT opportunity_id, state FROM jobs")).all()
    engine.dispose()
    files = Counter((f["filename"], o) for o in opportunities for f in salesforce.files_on(o))
    tasks = Counter((t["Subject"], o) for o in opportunities for t in salesforce.tasks_on(o))
    lost = SIGNINGS - completed()
    figures = {
        "signings": SIGNINGS, "replicas": REPLICAS, "kills": kills, "of them the poller": leader_kills,
        "seconds": round(done_at, 1), "provider requests": signrequest.create_calls,
        "duplicate requests": signrequest.create_calls - len(external_ids),
        "duplicate files": sum(n - 1 for n in files.values() if n > 1),
        "duplicate tasks": sum(n - 1 for n in tasks.values() if n > 1), "lost completions": lost,
        "salesforce calls": salesforce.total_api_calls, "connections through the balancer, by replica port": dict(balancer.connections),
        "exit codes at SIGTERM": exit_codes,
    }
    if faults:
        figures["faults injected"] = injected_faults(sandbox)
    print("\nchaos (replicas) figures:", figures)
    tails = "\n".join(f"--- {r.name}\n" + r.log_path.read_bytes()[-1500:].decode(errors="replace") for r in replicas)
    assert kills >= KILLS
    assert lost == 0, f"{lost} signings not completed after {DEADLINE}s (replay: {replay}); logs:\n{tails}"
    assert signrequest.create_calls == SIGNINGS and set(external_ids.values()) == {1}, f"replay: {replay}"
    assert len(jobs) == SIGNINGS and len({o for o, _ in jobs}) == SIGNINGS, f"replay: {replay}"
    assert figures["duplicate files"] == 0 and figures["duplicate tasks"] == 0, f"replay: {replay}"
    assert all(files[("Quote Q-9001 - signed.pdf", o)] == 1 and files[("Quote Q-9001 - evidence.pdf", o)] == 1
               for o in opportunities), f"replay: {replay}"
    assert chain_problems(salesforce, opportunities) == [], f"replay: {replay}"
    assert exit_codes == [0] * REPLICAS, f"a replica did not exit 0 on SIGTERM; logs:\n{tails}"
