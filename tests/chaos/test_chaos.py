"""Chaos: the daemon as a separate process, SIGKILLed at random moments and restarted, while a bot signs.

At the end every signing is attached exactly once: no duplicate provider request, no duplicate File
or Task, no lost completion. Fast mode runs in CI; soak mode is

    CONNECTOR_CHAOS_SIGNINGS=1000 CONNECTOR_CHAOS_KILLS=60 CONNECTOR_CHAOS_POLL_SECONDS=5 \
    CONNECTOR_CHAOS_STATUS_CHECK_MINUTES=0.5 pytest tests/chaos -s

and prints the same figures. Faults-on mode adds a fault plan (the `--faults` SPEC of
`run_connector.py sandbox`, see connector/sandbox/faultspec.py) to either mode, e.g.

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
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter

from config.settings import REPO_ROOT
from connector.sandbox.runner import injected_faults, settings_env, start_simulators
from connector.sandbox.servers import free_port
from connector.sandbox.signrequest_sim import ActionRefused
from tests.e2e.deals import make_deal, sign

SIGNINGS = int(os.environ.get("CONNECTOR_CHAOS_SIGNINGS", "200"))
POLL_SECONDS = float(os.environ.get("CONNECTOR_CHAOS_POLL_SECONDS", "0.5"))
STATUS_CHECK_MINUTES = float(os.environ.get("CONNECTOR_CHAOS_STATUS_CHECK_MINUTES", "0.02"))
KILLS = int(os.environ.get("CONNECTOR_CHAOS_KILLS", "20"))
DEADLINE = float(os.environ.get("CONNECTOR_CHAOS_DEADLINE_SECONDS", "420"))
FAULTS = os.environ.get("CONNECTOR_CHAOS_FAULTS") or None
CLIENT_TIMEOUT = float(os.environ.get("CONNECTOR_CHAOS_CLIENT_TIMEOUT_SECONDS", "2" if FAULTS else "30"))
KILL_GAP = float(os.environ.get("CONNECTOR_CHAOS_KILL_GAP_SECONDS", "1.2"))


class Daemon:
    def __init__(self, env: dict[str, str], log_path):
        self.env, self.log_path, self.process = env, log_path, None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        self.process = subprocess.Popen([sys.executable, str(REPO_ROOT / "run_connector.py"), "run"],
                                        env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def _sign_everything(signrequest, stop: threading.Event, signed: Counter) -> None:
    """A bot that signs, in order, every signer whose turn it is."""
    while not stop.is_set():
        for document_uuid, email in signrequest.awaiting_signature():
            try:
                sign(signrequest, document_uuid, email)
                signed[document_uuid] += 1
            except ActionRefused:
                pass
        stop.wait(0.05)


def test_sigkill_at_random_never_duplicates_or_loses_a_signing(tmp_path):
    random.seed(os.environ.get("CONNECTOR_CHAOS_SEED", "chaos"))
    webhook_port = free_port()
    sandbox = start_simulators(
        tmp_path, webhook_port=webhook_port, seed=False, poll_interval_seconds=POLL_SECONDS, poll_overlap_seconds=5,
        work_interval_seconds=0.2, status_check_minutes=STATUS_CHECK_MINUTES, job_lease_seconds=2, retry_base_seconds=0.2,
        mappings_reload_seconds=60, log_level="WARNING", faults=FAULTS,
        provider_timeout_seconds=CLIENT_TIMEOUT, salesforce_timeout_seconds=CLIENT_TIMEOUT)
    sandbox.signrequest.sender.retry_delays = (0.05,)
    opportunities = [make_deal(sandbox.salesforce, f"Chaos {n:04d}") for n in range(SIGNINGS)]
    for opportunity_id in opportunities:
        sandbox.salesforce.set_stage(opportunity_id, "Contract Sent")
    env = {**os.environ, **settings_env(sandbox.settings), "REQUESTS_CA_BUNDLE": str(sandbox.ca_file)}
    daemon = Daemon(env, tmp_path / "daemon.log")
    stop, signed = threading.Event(), Counter()
    bot = threading.Thread(target=_sign_everything, args=(sandbox.signrequest, stop, signed), daemon=True)
    started, kills = time.monotonic(), 0

    def completed() -> int:
        return sum(1 for o in sandbox.salesforce.records("Opportunity") if o["Signing_Status__c"] == "Completed")

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
    files = Counter((f["title"], o) for o in opportunities for f in salesforce.files_on(o))
    tasks = Counter((t["Subject"], o) for o in opportunities for t in salesforce.tasks_on(o))
    lost = SIGNINGS - completed()
    figures = {
        "signings": SIGNINGS, "kills": kills, "seconds": round(done_at, 1),
        "provider requests": signrequest.create_calls, "duplicate requests": signrequest.create_calls - len(external_ids),
        "duplicate files": sum(n - 1 for n in files.values() if n > 1),
        "duplicate tasks": sum(n - 1 for n in tasks.values() if n > 1), "lost completions": lost,
        "salesforce calls": salesforce.total_api_calls,
    }
    if FAULTS:
        figures["faults injected"] = injected_faults(sandbox)
        figures["callbacks posted"] = len(signrequest.deliveries)
    print("\nchaos figures:", figures)
    with open(tmp_path / "daemon.log", "rb") as log:
        tail = log.read()[-3000:].decode(errors="replace")
    assert kills >= KILLS
    assert lost == 0, f"{lost} signings not completed after {DEADLINE}s; daemon log tail:\n{tail}"
    assert signrequest.create_calls == SIGNINGS and set(external_ids.values()) == {1}
    assert len(jobs) == SIGNINGS and len({o for o, _ in jobs}) == SIGNINGS
    assert figures["duplicate files"] == 0 and figures["duplicate tasks"] == 0
    assert all(files[("Quote Q-9001 - signed", o)] == 1 and files[("Quote Q-9001 - evidence", o)] == 1
               for o in opportunities)
