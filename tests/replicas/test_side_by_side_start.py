"""Replicas started at once on a fresh database: one runs the schema upgrade, the others wait for it.

Each replica is its own process (Alembic keeps its context in module globals: threads would share it), and
all of them start the upgrade at the same moment."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from sqlalchemy import create_engine, text

from config.settings import REPO_ROOT

REPLICAS = 4
ROUNDS = 3
# Waits for a common start time, then upgrades the schema as `run_connector.py run` does at start-up.
MIGRATE_AT = """
import sys, time
from connector.store import Store
store = Store(sys.argv[1])
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
store.migrate()
"""


def test_four_replicas_migrating_a_fresh_database_at_once_all_succeed(fresh_database):
    for _ in range(ROUNDS):
        url = fresh_database()
        start_at = time.time() + 3  # every process has imported everything by then
        processes = [subprocess.Popen([sys.executable, "-c", MIGRATE_AT, url, str(start_at)], cwd=REPO_ROOT,
                                      env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                     for _ in range(REPLICAS)]
        outcomes = [(process.wait(60), process.stdout.read().decode(errors="replace")) for process in processes]
        assert [code for code, _ in outcomes] == [0] * REPLICAS, "\n".join(out for _, out in outcomes)[-3000:]
        engine = create_engine(url)
        with engine.connect() as conn:
            assert len(conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()) == 1
            assert conn.execute(text("SELECT count(*) FROM jobs")).scalar() == 0
        engine.dispose()
