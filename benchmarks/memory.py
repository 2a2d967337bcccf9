"""Resident memory of the daemon process and its children (/proc VmHWM and VmRSS): peak while one
signing of a 1, 10 or 100 MB document runs end to end, each in a fresh daemon, and RSS flatness over
many signings.

Latency does not change what is held in memory, so these run without simulated latency or a cap."""

from __future__ import annotations

import threading
import time

from benchmarks.deals import completed_opportunities, make_deals, padded_pdf, sign_waiting, trigger
from benchmarks.figures import Figure
from benchmarks.profiles import FULL, Profile, size_label
from benchmarks.world import Conditions, Session

MB = 1024 * 1024
MAX_WAVE = 50  # signings triggered together, the next wave once these are done
# The simulators slow down as they fill up (every poll and check reads all their records): the flatness run
# gets at least this much time per signing, so that it completes every signing the profile asks for.
SECONDS_PER_SIGNING = 0.5


def _bot(world, stop: threading.Event) -> None:
    while not stop.is_set():
        sign_waiting(world.signrequest)
        stop.wait(0.1)


def _stuck_jobs(daemon) -> str:
    """'parked' or 'failed' when the health endpoint counts such a job."""
    jobs = daemon.health().get("jobs", {})
    return next((state for state in ("parked", "failed") if jobs.get(state)), "")


def _last_parked_line(daemon) -> str:
    lines = [line for line in daemon.log_tail(20_000).splitlines() if "parked" in line]
    return lines[-1].split(": ", 1)[-1][-200:] if lines else "no reason logged"


def peak_for_document(size_mb: int, budget: float) -> tuple[int, int, str]:
    """(peak RSS, baseline RSS after start, outcome) for one signing of a `size_mb` document."""
    quiet = Conditions(0, 0, None)
    with Session(quiet, start_daemon=False, max_document_bytes=(size_mb + 50) * MB,
                 webhook_max_body_bytes=10 * MB) as (world, daemon):
        [opportunity] = make_deals(world.salesforce, 1, padded_pdf(size_mb * MB))
        daemon.start()
        baseline = daemon.memory()[1]
        stop = threading.Event()
        bot = threading.Thread(target=_bot, args=(world, stop), daemon=True)
        bot.start()
        trigger(world.salesforce, [opportunity])
        deadline, outcome = time.monotonic() + budget, "not finished within the budget"
        while time.monotonic() < deadline:
            if opportunity in completed_opportunities(world.salesforce):
                outcome = "completed"
                break
            record = world.salesforce.get_record("Opportunity", opportunity) or {}
            if record.get("Signing_Last_Error__c"):
                outcome = f"stopped: {record['Signing_Last_Error__c'][:160]}"
                break
            if stuck := _stuck_jobs(daemon):
                outcome = f"job {stuck} (daemon log: {_last_parked_line(daemon)})"
                break
            time.sleep(0.2)
        time.sleep(0.5)
        peak = daemon.memory()[1]
        stop.set()
        bot.join(5)
    return peak, baseline, outcome


def flatness(jobs: int, budget: float) -> tuple[float, int, int, int, int]:
    """(growth % from the end of warm-up (the first 10% of the signings) to the end, RSS then, RSS at the
    end, the highest RSS seen after warm-up, signings completed). RSS is read after every wave."""
    budget = max(budget, jobs * SECONDS_PER_SIGNING)
    with Session(Conditions(0, 0, None), start_daemon=False, poll_interval_seconds=0.5) as (world, daemon):
        opportunities = make_deals(world.salesforce, jobs)
        daemon.start()
        stop = threading.Event()
        bot = threading.Thread(target=_bot, args=(world, stop), daemon=True)
        bot.start()
        deadline = time.monotonic() + budget
        warm_rss, highest, done, wave_size = None, 0, 0, max(1, min(MAX_WAVE, jobs // 10))
        for start in range(0, jobs, wave_size):
            wave = set(opportunities[start:start + wave_size])
            trigger(world.salesforce, list(wave))
            while time.monotonic() < deadline and not wave <= completed_opportunities(world.salesforce):
                time.sleep(0.1)
            if time.monotonic() >= deadline:
                break
            done = start + len(wave)
            rss = daemon.memory()[0]
            if warm_rss is None and done >= jobs // 10:
                warm_rss = rss
            elif warm_rss is not None:
                highest = max(highest, rss)
        end_rss = daemon.memory()[0]
        stop.set()
        bot.join(5)
    warm_rss = warm_rss or end_rss
    return 100 * (end_rss - warm_rss) / warm_rss, warm_rss, end_rss, max(highest, end_rss), done


def run(profile: Profile, conditions: Conditions) -> list[Figure]:
    figures = []
    largest = max(profile.memory_sizes_mb)
    for size_mb in profile.memory_sizes_mb:
        peak, baseline, outcome = peak_for_document(size_mb, profile.memory_budget)
        figures.append(Figure("memory", f"peak RSS, {size_mb} MB document", peak / MB, "MB", 150 + 1.5 * size_mb,
                              "<=", f"{size_mb} MB PDF, one signing",
                              f"{outcome}; RSS at ready {baseline / MB:.0f} MB"))
    growth, warm, end, highest, done = flatness(profile.memory_jobs, profile.memory_budget)
    figures.append(Figure("memory", "RSS growth after warm-up", growth, "%", 5, "<=",
                          size_label(profile, profile.memory_jobs, FULL["memory_jobs"], "signings"),
                          f"{warm / MB:.0f} MB after the first 10%, {end / MB:.0f} MB after {done} signings"
                          f" (highest {highest / MB:.0f} MB); largest document in this profile {largest} MB"))
    return figures
