"""Salesforce API calls per signing when several threads advance jobs at once.

`python -m benchmarks.economy_threads [--signings 200] [--threads 64] [--linger-ms 400] [--batch-size 12]`

The economy benchmark runs the daemon as it ships; this one stands in for a daemon that advances jobs in
worker threads (one claimer hands due jobs to a pool of threads, each runs `Engine.advance`), so that the
effect of writeback batching can be measured before such a daemon exists. Same world as the benchmarks:
the simulators behind 150 ms of latency, SignRequest capped at 50 requests a second, one signer and one
200 KB PDF per signing; the engine runs in a process of its own, configured by CONNECTOR_* settings only.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.deals import completed_opportunities, make_deals, padded_pdf, sign_waiting, trigger
from benchmarks.world import Conditions, start_world
from config.settings import REPO_ROOT, Settings
from connector.daemon import bootstrap
from connector.sandbox.runner import settings_env


def _workers(daemon, threads: int, stop: threading.Event) -> None:
    """One claimer hands due jobs to `threads` workers, each of which advances its job (`Engine.advance`)."""
    busy = threading.Semaphore(threads)
    with ThreadPoolExecutor(threads) as pool:
        while not stop.is_set():
            free = 0
            while busy.acquire(blocking=False):
                free += 1
            jobs = daemon.store.claim_due_jobs(daemon.engine.worker_id, limit=free, lease_seconds=300) if free else []
            for _ in range(free - len(jobs)):
                busy.release()
            for job in jobs:
                pool.submit(_advance, daemon.engine, job, busy)
            if not jobs:
                stop.wait(0.05)


def _advance(engine, job, busy: threading.Semaphore) -> None:
    try:
        engine.advance(job)
    finally:
        busy.release()


def _every(seconds: float, action, stop: threading.Event) -> None:
    while not stop.is_set():
        action()
        stop.wait(seconds)


def run_engine(threads: int) -> None:
    """The child process: poll, dispatch and advance jobs in `threads` threads until SIGTERM."""
    logging.basicConfig(level=logging.WARNING)
    daemon = bootstrap(Settings())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    daemon.serve_webhooks()
    loops = [threading.Thread(target=_every, args=(daemon.settings.poll_interval_seconds, daemon.poll, stop)),
             threading.Thread(target=_every, args=(0.1, daemon.dispatcher.dispatch, stop)),
             threading.Thread(target=_workers, args=(daemon, threads, stop))]
    for loop in loops:
        loop.start()
    stop.wait()
    for loop in loops:
        loop.join(30)
    daemon.stop()


def measure(signings: int, threads: int, linger_ms: float, batch_size: int, budget: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="connector-econ-threads-") as tmp:
        world = start_world(Path(tmp), Conditions(), poll_interval_seconds=30,
                            salesforce_writeback_linger_ms=linger_ms, salesforce_writeback_batch_size=batch_size)
        env = {**os.environ, **settings_env(world.settings), "REQUESTS_CA_BUNDLE": str(world.ca_file)}
        engine = None
        try:
            opportunities = make_deals(world.salesforce, signings, padded_pdf(200 * 1024))
            trigger(world.salesforce, opportunities)
            world.salesforce.reset_api_calls()
            started = time.monotonic()
            with open(Path(tmp) / "engine.log", "ab") as log:
                engine = subprocess.Popen([sys.executable, "-m", "benchmarks.economy_threads", "--engine",
                                           "--threads", str(threads)], env=env, cwd=REPO_ROOT, stdout=log,
                                          stderr=subprocess.STDOUT)
            while time.monotonic() - started < budget and len(completed_opportunities(world.salesforce)) < signings:
                if engine.poll() is not None:
                    raise RuntimeError((Path(tmp) / "engine.log").read_text()[-2000:])
                sign_waiting(world.signrequest)
                time.sleep(0.1)
            time.sleep(0.5)  # let the last write-back's reply land
            done = len(completed_opportunities(world.salesforce) & set(opportunities))
            calls = world.salesforce.total_api_calls
            return {"signings": done, "calls": calls, "per_signing": calls / done if done else None,
                    "seconds": round(time.monotonic() - started, 1), "routes": dict(world.salesforce.api_calls)}
        finally:
            if engine and engine.poll() is None:
                engine.terminate()
                engine.wait(30)
            world.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.economy_threads", description=__doc__)
    parser.add_argument("--signings", type=int, default=200)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--linger-ms", type=float, default=400)
    parser.add_argument("--batch-size", type=int, default=12)
    parser.add_argument("--budget", type=float, default=600, help="seconds to wait for every signing")
    parser.add_argument("--engine", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.engine:
        run_engine(args.threads)
        return 0
    logging.basicConfig(level=logging.WARNING)
    figures = measure(args.signings, args.threads, args.linger_ms, args.batch_size, args.budget)
    per = figures["per_signing"]
    print(f"{figures['signings']} of {args.signings} signings completed in {figures['seconds']}s with "
          f"{args.threads} threads, linger {args.linger_ms:g} ms, batch size {args.batch_size}: "
          f"{figures['calls']} Salesforce calls, {per:.2f} per signing" if per else "no signing completed")
    for route, count in sorted(figures["routes"].items(), key=lambda kv: -kv[1]):
        print(f"  {route}: {count} ({count / max(figures['signings'], 1):.2f} per signing)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
