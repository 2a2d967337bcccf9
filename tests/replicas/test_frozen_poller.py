"""A frozen poller (SIGSTOP, a paused VM) keeps its database session, and with it the election lock: its
kernel still answers TCP keepalives. Its beats stop, though, and a follower takes the role from it."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from connector.runtime.leader import AdvisoryLockLeadership

ROOT = Path(__file__).resolve().parents[2]
BEAT, STALE = 0.3, 2.0
LEADER = f"""
import sys, time
from connector.runtime.leader import AdvisoryLockLeadership
leader = AdvisoryLockLeadership(sys.argv[1], beat_seconds={BEAT}, stale_after_seconds={STALE})
while not leader.check():
    time.sleep(0.1)
print("leader", flush=True)
while leader.is_leader:
    time.sleep(0.05)
print("stood down", flush=True)
"""


def _lines(process: subprocess.Popen) -> queue.Queue:
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.strip()) for line in process.stdout], daemon=True).start()
    return lines


def test_a_follower_takes_the_role_from_a_frozen_leader_which_stands_down_when_it_wakes(fresh_database):
    url = fresh_database()
    process = subprocess.Popen([sys.executable, "-c", LEADER, url], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    follower = AdvisoryLockLeadership(url, beat_seconds=BEAT, stale_after_seconds=STALE)
    try:
        lines = _lines(process)
        assert lines.get(timeout=30) == "leader"

        # A beating leader keeps the role however long the follower asks.
        asked_until = time.monotonic() + 1.5 * STALE
        while time.monotonic() < asked_until:
            assert not follower.check()
            time.sleep(0.2)

        os.kill(process.pid, signal.SIGSTOP)
        frozen_at = time.monotonic()
        while not follower.check():
            assert time.monotonic() - frozen_at < 5 * STALE, "the follower never took over from the frozen leader"
            time.sleep(0.2)
        took = time.monotonic() - frozen_at
        print(f"taken over {took:.2f} s after the SIGSTOP")
        assert STALE - BEAT <= took < STALE + 2.0  # idle since its last beat, up to BEAT before the SIGSTOP

        os.kill(process.pid, signal.SIGCONT)
        assert lines.get(timeout=10) == "stood down"
        assert follower.check()  # the role stays with the follower
    finally:
        os.kill(process.pid, signal.SIGCONT)
        process.kill()
        process.wait()
        follower.resign()
