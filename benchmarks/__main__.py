"""`python -m benchmarks [--quick] [--profile default|quick|soak|replicas] [--out benchmarks/results.json]`"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import bulk, completion, economy, ingest, memory, replicas, startup, trigger_latency
from benchmarks.figures import table, write_json
from benchmarks.profiles import PROFILES
from benchmarks.world import Conditions

BENCHMARKS = {"startup": startup, "economy": economy, "bulk": bulk, "ingest": ingest, "completion": completion,
              "memory": memory, "replicas": replicas, "trigger-latency": trigger_latency}
# Run unless --only or the profile says otherwise; replicas needs PostgreSQL and runs with --profile replicas.
DEFAULT = [name for name in BENCHMARKS if name != "replicas"]


def _drop_client_disconnects(record: logging.LogRecord) -> bool:
    """A simulator's request cut short when a benchmark stops the daemon mid-call is not news. (A filter,
    not a level: uvicorn resets its loggers' levels whenever a server is configured.)"""
    return not (record.exc_info and record.exc_info[0] and record.exc_info[0].__name__ == "ClientDisconnect")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="every benchmark tiny (same as --profile quick)")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="default")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results.json"))
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append", help="run only these (repeatable)")
    parser.add_argument("--provider-latency-ms", type=float, default=150)
    parser.add_argument("--salesforce-latency-ms", type=float, default=150)
    parser.add_argument("--provider-cap", type=float, default=50, help="provider requests a second (429 above)")
    args = parser.parse_args(argv)
    profile = PROFILES["quick" if args.quick else args.profile]
    conditions = Conditions(args.provider_latency_ms / 1000, args.salesforce_latency_ms / 1000, args.provider_cap)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("uvicorn.error").addFilter(_drop_client_disconnects)
    figures, started, timings = [], time.monotonic(), {}
    for name in args.only or profile.only or DEFAULT:
        began = time.monotonic()
        print(f"running {name} ({profile.name} profile)...", file=sys.stderr, flush=True)
        figures += BENCHMARKS[name].run(profile, conditions)
        timings[name] = round(time.monotonic() - began, 1)
    meta = {"profile": profile.name, "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.monotonic() - started, 1), "seconds_by_benchmark": timings,
            "conditions": vars(conditions), "cpus": os.cpu_count(), "python": platform.python_version(),
            "load_average_at_end": os.getloadavg()}
    write_json(args.out, figures, meta)
    print(table(figures))
    print(f"\n{profile.name} profile: {meta['seconds']}s; load average {meta['load_average_at_end']}; "
          f"figures in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
