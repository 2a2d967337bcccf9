"""Salesforce API calls per completed signing, counted by the Salesforce simulator.

The opportunities are moved into the trigger stage before the daemon starts and its poll interval is
the production default (30 s), so the first poll finds them; idle polls after that are counted too,
as an org would pay for them.
"""

from __future__ import annotations

import threading
import time

from benchmarks.deals import completed_opportunities, make_deals, padded_pdf, sign_waiting, trigger
from benchmarks.figures import Figure
from benchmarks.profiles import FULL, Profile, size_label
from benchmarks.world import Conditions, Session

PDF = padded_pdf(200 * 1024)


def _signing_bot(world, stop: threading.Event) -> None:
    while not stop.is_set():
        sign_waiting(world.signrequest)
        stop.wait(0.1)


def measure_calls(conditions: Conditions, signings: int, budget: float) -> tuple[int, int, dict]:
    """(Salesforce calls, signings completed, calls by route) for `signings` triggered at once."""
    with Session(conditions, start_daemon=False, poll_interval_seconds=30) as (world, daemon):
        opportunities = make_deals(world.salesforce, signings, PDF)
        trigger(world.salesforce, opportunities)
        world.salesforce.reset_api_calls()
        stop = threading.Event()
        bot = threading.Thread(target=_signing_bot, args=(world, stop), daemon=True)
        bot.start()
        daemon.start()
        deadline = time.monotonic() + budget
        try:
            while time.monotonic() < deadline and len(completed_opportunities(world.salesforce)) < signings:
                time.sleep(0.25)
            time.sleep(0.5)  # let the last write-back's reply land
        finally:
            stop.set()
            bot.join(5)
        done = len(completed_opportunities(world.salesforce) & set(opportunities))
        return world.salesforce.total_api_calls, done, dict(world.salesforce.api_calls)


def run(profile: Profile, conditions: Conditions) -> list[Figure]:
    figures = []
    calls, done, routes = measure_calls(conditions, 1, profile.economy_budget)
    figures.append(Figure("salesforce-economy", "API calls, one isolated signing", calls / done if done else None,
                          "calls", 5, "<=", "1 signing, receipt on (4 with receipt: false)", _routes(routes)))
    calls, done, routes = measure_calls(conditions, profile.economy_signings, profile.economy_budget)
    note = _routes(routes)
    if done < profile.economy_signings:
        note = f"only {done} of {profile.economy_signings} completed in {profile.economy_budget:.0f}s; " + note
    figures.append(Figure("salesforce-economy", "API calls per signing, amortised", calls / done if done else None,
                          "calls", 1.5, "<=", size_label(profile, profile.economy_signings, FULL["economy_signings"],
                                                         "signings"), note))
    return figures


def _routes(routes: dict) -> str:
    return ", ".join(f"{route}: {count}" for route, count in sorted(routes.items(), key=lambda kv: -kv[1]))
