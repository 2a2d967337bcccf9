"""SIGTERM, as a rolling restart sends it: `run_connector.py run` stops claiming, says it is not ready, lets the
step under way finish within the grace, keeps answering callbacks meanwhile, and exits 0."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import requests

from adapters.signrequest.callbacks import event_hash
from config.settings import REPO_ROOT
from connector.runtime.servers import free_port
from sandbox.runner import SIGNREQUEST_TOKEN, settings_env, start_simulators
from tests.e2e.deals import make_deal

CREATE = "POST /api/v1/signrequest-quick-create/"


def _daemon(tmp_path, **settings):
    port = free_port()
    sandbox = start_simulators(tmp_path, webhook_port=port, seed=False, poll_interval_seconds=0.3,
                               work_interval_seconds=0.2, log_level="INFO", **settings)
    env = {**os.environ, **settings_env(sandbox.settings), "REQUESTS_CA_BUNDLE": str(sandbox.ca_file)}
    log = open(tmp_path / "daemon.log", "wb")  # noqa: SIM115 - handed to the child process
    process = subprocess.Popen([sys.executable, str(REPO_ROOT / "run_connector.py"), "run"], env=env, stdout=log,
                               stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                return sandbox, process, base
        except requests.RequestException:
            pass
        time.sleep(0.05)
    process.kill()
    raise AssertionError("daemon not ready: " + (tmp_path / "daemon.log").read_text()[-2000:])


def _wait(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _callback() -> dict:
    """An authentic SignRequest callback (for a request no job knows: it is recorded all the same)."""
    event_time, event_type = str(int(time.time())), "declined"
    body = {"uuid": str(uuid.uuid4()), "event_type": event_type, "event_time": event_time,
            "event_hash": event_hash(SIGNREQUEST_TOKEN, event_time, event_type),
            "document": {"uuid": str(uuid.uuid4()), "external_id": None}}
    return {"data": json.dumps(body).encode(), "headers": {"Content-Type": "application/json"}}


def _job(tmp_path) -> tuple:
    return sqlite3.connect(tmp_path / "connector.db").execute(
        "SELECT state, request_id, pending_effect, lease_owner FROM jobs").fetchone()


def test_sigterm_lets_the_step_under_way_finish_answers_callbacks_meanwhile_and_exits_0(tmp_path):
    sandbox, process, base = _daemon(tmp_path, shutdown_grace_seconds=20, provider_timeout_seconds=10)
    try:
        sandbox.signrequest.faults.add_http(CREATE, timeout=1.0, hold_seconds=3, times=1)  # the reply takes 3 s
        sandbox.salesforce.set_stage(make_deal(sandbox.salesforce, "Rolling Deal"), "Contract Sent")
        _wait(lambda: sandbox.signrequest.create_calls == 1)  # the create is at the provider, its reply held
        process.send_signal(signal.SIGTERM)
        _wait(lambda: requests.get(f"{base}/readyz", timeout=2).status_code == 503, timeout=2)
        assert requests.get(f"{base}/healthz", timeout=2).status_code == 200
        # A callback arriving during the drain is still recorded and acknowledged.
        assert requests.post(f"{base}/webhooks/signrequest", timeout=2, **_callback()).status_code == 200
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        sandbox.stop()
    state, request_id, pending, lease = _job(tmp_path)
    assert request_id and pending is None and state in ("sent", "awaiting")  # the create's reply was kept
    assert lease is None
    assert sandbox.signrequest.create_calls == 1


def test_a_step_outlasting_the_grace_is_abandoned_and_the_daemon_exits_0_on_time(tmp_path):
    sandbox, process, base = _daemon(tmp_path, shutdown_grace_seconds=1, provider_timeout_seconds=60)
    try:
        sandbox.signrequest.faults.add_http(CREATE, timeout=1.0, hold_seconds=30, times=1)
        sandbox.salesforce.set_stage(make_deal(sandbox.salesforce, "Slow Deal"), "Contract Sent")
        _wait(lambda: sandbox.signrequest.create_calls == 1)
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
        assert time.monotonic() - stopped_at < 8  # the grace (1 s) and the rest of the shutdown, not the 30 s
    finally:
        if process.poll() is None:
            process.kill()
        sandbox.stop()
    state, request_id, pending, lease = _job(tmp_path)
    # Abandoned mid-create: the mark stays and the lease is left to run out, so whoever takes the job over
    # waits until the create can no longer be on its way, then looks for it before sending anything.
    assert (state, request_id, pending) == ("new", None, "create") and lease is not None
