"""A fault mix drawn at random from a seed, in the text form of sandbox/faultspec.py.

Every rate is drawn across the range the simulators support for it (the rates of one clause add up to at
most 1), so a run of the chaos test meets a mix nobody chose. The same seed always draws the same mix.
"""

from __future__ import annotations

import random

# (clause head, {setting: (low, high)}, fixed settings). Rates are shares of matching calls.
_CLAUSES: tuple[tuple[str, dict[str, tuple[float, float]], str], ...] = (
    ("signrequest POST /api/v1/signrequest-quick-create/",
     {"5xx": (0.0, 0.15), "429": (0.0, 0.1), "timeout": (0.0, 0.05), "reset": (0.0, 0.08)}, "hold=3"),
    ("signrequest GET /api/v1/*",
     {"5xx": (0.0, 0.08), "429": (0.0, 0.05), "reset": (0.0, 0.04), "timeout": (0.0, 0.02)},
     "retry_after=0.5 hold=3"),
    ("signrequest POST /api/v1/signrequests/*", {"5xx": (0.0, 0.1), "reset": (0.0, 0.05)}, ""),
    ("salesforce /services/data/*",
     {"5xx": (0.0, 0.04), "timeout": (0.0, 0.01), "reset": (0.0, 0.02)}, "hold=3"),
    ("signrequest webhooks",
     {"drop": (0.0, 0.3), "duplicate": (0.0, 0.15), "delay": (0.0, 0.1), "reorder": (0.0, 0.1)}, "delay_seconds=5"),
)


def draw_mix(seed: str) -> str:
    rng = random.Random(f"chaos-mix:{seed}")
    clauses = [f"seed={seed}"]
    for head, ranges, fixed in _CLAUSES:
        rates = " ".join(f"{name}={rng.uniform(low, high):.3f}" for name, (low, high) in ranges.items())
        clauses.append(f"{head}: {rates} {fixed}".rstrip())
    clauses.append(f"salesforce: session_expiry_every={rng.randint(40, 300)} "
                   f"limit_exceeded={rng.uniform(0.0, 0.02):.3f}")
    return ";\n  ".join(clauses)
