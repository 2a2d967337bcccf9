"""What the chaos tests run around the daemon: `run_connector.py run` as a process to SIGKILL and restart,
and a bot that signs whatever is waiting for a signature."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections import Counter

from config.settings import REPO_ROOT
from sandbox.signrequest_sim import ActionRefused
from tests.e2e.deals import sign


class DaemonProcess:
    def __init__(self, env: dict[str, str], log_path, *, stop_seconds: float = 10):
        self.env, self.log_path, self.stop_seconds = env, log_path, stop_seconds
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen([sys.executable, str(REPO_ROOT / "run_connector.py"), "run"],
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=self.stop_seconds)
            except subprocess.TimeoutExpired:
                self.kill()


def sign_everything(signrequest, stop: threading.Event, signed: Counter) -> None:
    """A bot that signs, in order, every signer whose turn it is."""
    while not stop.is_set():
        for document_uuid, email in signrequest.awaiting_signature():
            try:
                sign(signrequest, document_uuid, email)
                signed[document_uuid] += 1
            except ActionRefused:
                pass
        stop.wait(0.05)
