"""Bulk trigger: N opportunities moved into the trigger stage at once, against the provider's rate cap,
and the same without a cap (concurrency, not sequence: 150 ms a call allows 6.7/s one at a time)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from benchmarks.deals import make_deals, trigger
from benchmarks.figures import Figure
from benchmarks.profiles import FULL, Profile, size_label
from benchmarks.world import Conditions, Session


@dataclass
class BulkRun:
    target: int
    created: int  # unique requests at the provider
    create_calls: int
    timeline: list[tuple[float, int]]  # (seconds since the trigger, create calls so far)
    provider_calls: int
    rejected: int
    seconds_to_all: float | None

    def sustained_rate(self) -> float:
        """Creates a second between 10% and 90% of the way (or over what got done within the budget)."""
        low, high = 0.1 * self.target, 0.9 * self.target
        start = next((t for t, n in self.timeline if n >= max(low, 1)), None)
        end_point = next(((t, n) for t, n in self.timeline if n >= high), None) or self.timeline[-1]
        start_count = next((n for t, n in self.timeline if t == start), 0)
        if start is None or end_point[0] <= start:
            return 0.0
        return (end_point[1] - start_count) / (end_point[0] - start)


def run_bulk(conditions: Conditions, opportunities: int, budget: float) -> BulkRun:
    with Session(conditions, start_daemon=False) as (world, daemon):
        ids = make_deals(world.salesforce, opportunities)
        daemon.start()
        world.provider_net.reset_counts()
        started = time.monotonic()
        trigger(world.salesforce, ids)
        timeline, seconds_to_all = [(0.0, 0)], None
        while time.monotonic() - started < budget:
            time.sleep(0.25)
            count = world.signrequest.create_calls
            timeline.append((time.monotonic() - started, count))
            if count >= opportunities:
                seconds_to_all = timeline[-1][0]
                break
        counts = world.provider_net.counts
        unique = len({d["external_id"] for d in world.signrequest.documents()})
        return BulkRun(opportunities, unique, world.signrequest.create_calls, timeline, counts.calls, counts.rejected,
                       seconds_to_all)


def run(profile: Profile, conditions: Conditions) -> list[Figure]:
    n, cap = profile.bulk_opportunities, conditions.provider_rate or 50.0
    size = size_label(profile, n, FULL["bulk_opportunities"], "opportunities")
    capped = run_bulk(conditions, n, profile.bulk_budget)
    rate = capped.sustained_rate()
    if capped.seconds_to_all is not None:
        to_all, note = capped.seconds_to_all, ""
    else:
        to_all = n / rate if rate else None
        note = (f"projected from the sustained rate: {capped.created} of {n} created in "
                f"{profile.bulk_budget:.0f}s budget")
    figures = [
        Figure("bulk-trigger", "seconds until every request is created", to_all, "s", n / cap / 0.95, "<=", size,
               note or f"the cap allows {n / cap:.1f}s at best"),
        Figure("bulk-trigger", "sustained create rate / provider cap", 100 * rate / cap, "%", 95, ">=", size,
               f"{rate:.1f} creates/s at a cap of {cap:.0f}/s"),
        Figure("bulk-trigger", "429s received / provider calls",
               100 * capped.rejected / capped.provider_calls if capped.provider_calls else 0.0, "%", 1, "<", size,
               f"{capped.rejected} of {capped.provider_calls} calls"),
        Figure("bulk-trigger", "duplicate requests", capped.create_calls - capped.created, "", 0, "==", size),
    ]
    uncapped = run_bulk(Conditions(conditions.provider_latency, conditions.salesforce_latency, None), n,
                        profile.bulk_budget)
    figures.append(Figure("bulk-trigger", "requests created per second, no cap", uncapped.sustained_rate(), "/s",
                          200, ">=", size, f"{conditions.provider_latency * 1000:.0f} ms provider latency; "
                          f"{uncapped.created} of {n} created"))
    return figures
