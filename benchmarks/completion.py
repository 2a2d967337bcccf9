"""Completion latency: from the provider's completion event (the signer signs at the simulator, which
posts the callback) to both Files visible on the opportunity, with signings arriving at a fixed rate.

The requests are created first with no latency and no cap (that is the bulk benchmark's job); the
latencies are switched on before the first signature, the provider's cap is not: each completion takes
several provider calls (status, signed file, evidence), so 100 completions a second need several times
the default 50 calls/s cap, and no connector could meet the latency under it. What the cap does to the
flow is the bulk benchmark's figure.
"""

from __future__ import annotations

import threading
import time

from benchmarks.deals import completed_opportunities, make_deals, trigger
from benchmarks.figures import Figure, percentile
from benchmarks.profiles import Profile
from benchmarks.world import Conditions, Session

WATCH_INTERVAL = 0.05


def _watch(world, pending: set[str], seen_at: dict[str, float], stop: threading.Event) -> None:
    while not stop.is_set():
        now = time.monotonic()
        for opportunity in completed_opportunities(world.salesforce) & pending:
            seen_at.setdefault(opportunity, now)
        stop.wait(WATCH_INTERVAL)


def _wait_for_requests(world, count: int, budget: float) -> list[tuple[str, str]]:
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        waiting = world.signrequest.awaiting_signature()
        if len(waiting) >= count:
            return waiting
        time.sleep(0.25)
    raise RuntimeError(f"only {len(world.signrequest.awaiting_signature())} of {count} requests created "
                       f"in {budget:.0f}s")


def _measure(profile: Profile, conditions: Conditions, **overrides) -> tuple[list[float], int, float]:
    """(latencies, how many never completed, seconds the signing took) for one daemon's run."""
    n, rate = profile.completions, profile.completion_rate
    with Session(Conditions(0, 0, None), start_daemon=False, status_check_minutes=30, **overrides) as (world, daemon):
        opportunities = make_deals(world.salesforce, n)
        daemon.start()
        trigger(world.salesforce, opportunities)
        waiting = _wait_for_requests(world, n, max(120.0, n / 5))
        time.sleep(1.5)  # the "Sent" write-backs of the last requests
        by_request = {o["Signing_Request_Id__c"]: o["Id"] for o in world.salesforce.records("Opportunity")}
        world.set_conditions(Conditions(conditions.provider_latency, conditions.salesforce_latency, None))
        signed_at: dict[str, float] = {}
        seen_at: dict[str, float] = {}
        stop = threading.Event()
        watcher = threading.Thread(target=_watch, args=(world, set(opportunities), seen_at, stop), daemon=True)
        watcher.start()
        started = time.monotonic()
        for i, (document_uuid, email) in enumerate(waiting):
            time.sleep(max(0.0, started + i / rate - time.monotonic()))
            signed_at[by_request[document_uuid]] = time.monotonic()
            world.signrequest.sign(document_uuid, email)
        signing_seconds = time.monotonic() - started
        deadline = time.monotonic() + profile.completion_budget
        while time.monotonic() < deadline and len(seen_at) < n:
            time.sleep(0.2)
        stop.set()
        watcher.join(5)
        ended = time.monotonic()
    return [seen_at.get(o, ended) - t for o, t in signed_at.items()], n - len(seen_at), signing_seconds


def run(profile: Profile, conditions: Conditions) -> list[Figure]:
    n, rate = profile.completions, profile.completion_rate
    latencies, missing, signing_seconds = _measure(profile, conditions)
    # The same flow with the signed documents and the evidence downloaded one after the other, for comparison.
    serial, serial_missing, _ = _measure(profile, conditions, downloads_side_by_side=False)
    size = (f"{n:,} completions at {rate:.0f}/s (signed in {signing_seconds:.1f}s), "
            f"{conditions.provider_latency * 1000:.0f}/{conditions.salesforce_latency * 1000:.0f} ms "
            "provider/Salesforce latency, no provider cap")
    note = f"{missing} not complete after {profile.completion_budget:.0f}s: counted as that (a lower bound)" \
        if missing else f"watched every {WATCH_INTERVAL * 1000:.0f} ms"
    serial_note = (f"downloads one after the other, same run: p50 {percentile(serial, 0.5):.2f} s, "
                   f"p99 {percentile(serial, 0.99):.2f} s" + (f", {serial_missing} not complete" if serial_missing
                                                               else ""))
    return [
        Figure("completion-latency", "completion event to both Files, p50", percentile(latencies, 0.5), "s", 1, "<=",
               size, f"{note}; {serial_note}"),
        Figure("completion-latency", "completion event to both Files, p99", percentile(latencies, 0.99), "s", 3,
               "<=", size, note),
    ]
