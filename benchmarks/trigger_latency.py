"""Trigger latency: from a stage change in Salesforce to the signing request created at the provider.

Deals are moved into the trigger stage one at a time, a random 0.25 to 0.75 s apart, with the network
conditions of the run (150 ms per Salesforce and provider call by default, the Pub/Sub stream included), first
with push triggers on (Change Data Capture over the Pub/Sub API), then off (polling every
`trigger_poll_seconds`, the product's default 30 s). A watcher notes when each deal's request appears at the
provider. The SOQL queries Salesforce answered meanwhile are the trigger side's reads: one per batch of change
events with push on, one per poll with it off.
"""

from __future__ import annotations

import random
import threading
import time

from benchmarks.deals import make_deals
from benchmarks.figures import Figure, percentile
from benchmarks.profiles import Profile
from benchmarks.world import STAGE, Conditions, DaemonProcess, Session, World

SWEEP_SECONDS = 600.0


def _wait_streaming(daemon: DaemonProcess, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while daemon.health().get("push", {}).get("state") != "streaming":
        if time.monotonic() > deadline:
            raise RuntimeError(f"the push source did not start streaming; see {daemon.log_path}")
        time.sleep(0.1)


def _created_at(world: World, names: dict[str, str], moved: dict[str, float], budget: float) -> dict[str, float]:
    """Watch the provider until every moved deal has its request (or the budget runs out): deal -> when."""
    seen: dict[str, float] = {}
    deadline = time.monotonic() + budget
    while len(seen) < len(names) and time.monotonic() < deadline:
        with world.signrequest.store.lock:
            titles = [d.name for d in world.signrequest.store.documents.values() if d.signrequest is not None]
        now = time.perf_counter()
        for title in titles:
            for deal, name in names.items():
                if deal not in seen and deal in moved and name in title:
                    seen[deal] = now
        time.sleep(0.01)
    return seen


def _measure(profile: Profile, conditions: Conditions, push: bool) -> tuple[list[float], int, int]:
    overrides = dict(salesforce_cdc_enabled=push, poll_sweep_interval_seconds=SWEEP_SECONDS,
                     poll_interval_seconds=profile.trigger_poll_seconds)
    with Session(conditions, **overrides) as (world, daemon):
        deals = make_deals(world.salesforce, profile.trigger_deals, prefix="Trigger")
        names = {deal: world.salesforce.get_record("Opportunity", deal)["Name"] for deal in deals}
        if push:
            _wait_streaming(daemon)
        time.sleep(1.0)  # the first poll after the start has run
        queries_before = world.salesforce.api_calls["GET /query"]
        moved: dict[str, float] = {}
        watcher_result: dict[str, float] = {}
        budget = profile.trigger_deals + profile.trigger_poll_seconds * 2 + 10
        watcher = threading.Thread(target=lambda: watcher_result.update(_created_at(world, names, moved, budget)))
        watcher.start()
        rng = random.Random(15)
        for deal in deals:
            moved[deal] = time.perf_counter()
            world.salesforce.set_stage(deal, STAGE)
            time.sleep(rng.uniform(0.25, 0.75))
        watcher.join()
        queries = world.salesforce.api_calls["GET /query"] - queries_before
    latencies = [watcher_result[deal] - moved[deal] for deal in deals if deal in watcher_result]
    return latencies, len(deals) - len(latencies), queries


def run(profile: Profile, conditions: Conditions) -> list[Figure]:
    figures = []
    size = f"{profile.trigger_deals} stage changes, {conditions.salesforce_latency * 1000:.0f} ms per call"
    for push in (True, False):
        latencies, missed, queries = _measure(profile, conditions, push)
        label = "push on (CDC)" if push else f"push off (poll every {profile.trigger_poll_seconds:.0f}s)"
        note = f"{missed} never created" if missed else ""
        p50 = percentile(latencies, 0.5) if latencies else None
        p99 = percentile(latencies, 0.99) if latencies else None
        figures += [
            Figure("trigger-latency", f"stage change to request created, p50, {label}", p50, "s",
                   1.0 if push else None, "<=", size, note),
            Figure("trigger-latency", f"stage change to request created, p99, {label}", p99, "s",
                   3.0 if push else None, "<=", size, note),
            Figure("trigger-latency", f"trigger-side SOQL queries per stage change, {label}",
                   queries / profile.trigger_deals, "calls", None, "<=", size,
                   "while idle: " + (f"one sweep per {SWEEP_SECONDS:.0f}s" if push else
                                     f"one poll per {profile.trigger_poll_seconds:.0f}s")),
        ]
    return figures
