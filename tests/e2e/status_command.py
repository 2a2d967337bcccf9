"""`run_connector.py status` as an admin runs it: a separate process reading the daemon's state database."""

from __future__ import annotations

import os
import subprocess
import sys

from config.settings import REPO_ROOT


def run_status(database_url: str, cwd) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNECTOR_")}
    env["CONNECTOR_DATABASE_URL"] = database_url
    done = subprocess.run([sys.executable, str(REPO_ROOT / "run_connector.py"), "status"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout + done.stderr
