"""`run_connector.py status` as an admin runs it: a separate process with the daemon's settings
(secrets included), reading the daemon's state database."""

from __future__ import annotations

import os
import subprocess
import sys

from config.settings import REPO_ROOT, Settings
from sandbox.runner import settings_env


def run_status(settings: Settings, cwd) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env.update(settings_env(settings))
    done = subprocess.run([sys.executable, str(REPO_ROOT / "run_connector.py"), "status"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout + done.stderr
