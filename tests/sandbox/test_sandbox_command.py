"""`run_connector.py sandbox` as a newcomer runs it, then the command line from the same directory: the
sandbox honours CONNECTOR_LOG_LEVEL and CONNECTOR_LOG_FORMAT, and `status` finds its settings and state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from config.settings import REPO_ROOT
from connector.runtime.servers import free_port

ENTRY = str(REPO_ROOT / "run_connector.py")


class _Sandbox:
    def __init__(self, cwd, **env: str):
        self.port = free_port()
        clean = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
        self.process = subprocess.Popen([sys.executable, ENTRY, "sandbox", "--port", str(self.port)], cwd=cwd,
                                        env={**clean, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, lines in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            threading.Thread(target=lambda s=stream, k=lines: k.extend(iter(s.readline, "")), daemon=True).start()

    def wait_running(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any("Press Ctrl+C to stop" in line for line in self.out):
            assert self.process.poll() is None, "".join(self.err)
            assert time.monotonic() < deadline, "".join(self.out + self.err)
            time.sleep(0.1)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=30)


@pytest.fixture
def sandbox(tmp_path):
    started: list[_Sandbox] = []

    def start(**env: str) -> _Sandbox:
        started.append(_Sandbox(tmp_path, **env))
        started[-1].wait_running()
        return started[-1]

    yield start
    for one in started:
        if one.process.poll() is None:
            one.stop()


def test_json_logs_at_info_and_status_from_the_same_directory(sandbox, tmp_path):
    running = sandbox(CONNECTOR_LOG_FORMAT="json", CONNECTOR_LOG_LEVEL="INFO")
    assert requests.get(f"http://127.0.0.1:{running.port}/readyz", timeout=10).status_code == 200
    done = subprocess.run([sys.executable, ENTRY, "status"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")})
    running.stop()
    assert done.returncode == 0 and "jobs by state:" in done.stdout, done.stderr
    assert "sandbox-state/sandbox.env" in done.stderr
    records = [json.loads(line) for line in running.err if line.startswith("{")]
    assert any(r["message"].startswith("daemon running") and r["level"] == "INFO" for r in records), running.err
    assert all(line.startswith("{") for line in running.err if line.strip()), running.err  # nothing but JSON


def test_the_log_level_is_honoured(sandbox):
    running = sandbox(CONNECTOR_LOG_LEVEL="WARNING")
    running.stop()
    assert not any("daemon running" in line for line in running.err), running.err
