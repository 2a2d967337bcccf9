"""Command line: explore seeds (CI size or soak), replay one run exactly, or enumerate one signing exhaustively.

    python -m tests.simulation --seeds 2000 [--first 0] [--processes 2]
    python -m tests.simulation --seeds 1000000 --processes 2        # soak (or SIM_SOAK_SEEDS=1000000)
    python -m tests.simulation --replay 1234 [--trace]               # the command a failing seed prints
    python -m tests.simulation --exhaustive [--scenario complete]
    ... --postgres                                                  # on CONNECTOR_TEST_POSTGRES_URL instead of SQLite

Exit status 1 when an invariant broke.
"""

from __future__ import annotations

import argparse
import os
import sys

from tests.simulation.explore import environment, exhaustive, explore_in_processes
from tests.simulation.faults import ALL_KINDS, KNOWN_ENGINE_BUGS, FaultKind
from tests.simulation.harness import run
from tests.simulation.result import RunConfig
from tests.simulation.scenario import NAMED

SOAK_ENV = "SIM_SOAK_SEEDS"
# cancel_race exists to show a known engine window (faults.KNOWN_ENGINE_BUGS): run it with --scenario cancel_race.
EXHAUSTIVE_SCENARIOS = ["complete", "decline", "cancel"]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.simulation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--seeds", type=int, help=f"explore this many seeds (default: ${SOAK_ENV} or 2000)")
    mode.add_argument("--replay", type=int, metavar="SEED", help="run one seed and report it in full")
    mode.add_argument("--exhaustive", action="store_true", help="every injection point x fault kind of a signing")
    parser.add_argument("--first", type=int, default=0, help="the first seed to explore")
    parser.add_argument("--processes", type=int, default=1, help="explore in this many processes")
    parser.add_argument("--scenario", choices=NAMED, help="a named scenario instead of the seed's own")
    parser.add_argument("--inject", help="exactly these faults, INDEX:KIND[,INDEX:KIND] (or 'none')")
    parser.add_argument("--kinds", help="random faults of these kinds only, comma-separated")
    parser.add_argument("--with-known-bugs", action="store_true",
                        help="do not leave out the windows listed in faults.KNOWN_ENGINE_BUGS")
    parser.add_argument("--rate", type=float, default=RunConfig.rate, help="chance of a fault at each point")
    parser.add_argument("--max-faults", type=int, default=RunConfig.max_faults)
    parser.add_argument("--trace", action="store_true", help="with --replay: print the run's trace")
    parser.add_argument("--postgres", action="store_true", help="run on $CONNECTOR_TEST_POSTGRES_URL")
    return parser.parse_args(argv)


def _config(args: argparse.Namespace, seed: int) -> RunConfig:
    inject = None
    if args.inject is not None:
        pairs = [] if args.inject == "none" else [item.split(":") for item in args.inject.split(",")]
        inject = tuple((int(index), FaultKind(kind)) for index, kind in pairs)
    kinds = frozenset(FaultKind(k) for k in args.kinds.split(",")) if args.kinds else ALL_KINDS
    return RunConfig(seed=seed, scenario=args.scenario, inject=inject, kinds=kinds,
                     skip_known_bugs=not args.with_known_bugs, rate=args.rate, max_faults=args.max_faults)


def _explore(args: argparse.Namespace) -> int:
    count = args.seeds or int(os.environ.get(SOAK_ENV, "2000"))
    total = explore_in_processes(_config(args, 0), range(args.first, args.first + count),
                                 processes=args.processes, postgres=args.postgres,
                                 progress_every=10_000 if count > 20_000 else None)
    print(total.line())
    print("faults by kind: " + ", ".join(f"{kind} {n}" for kind, n in sorted(total.kinds.items())))
    if total.failures:
        print(f"{len(total.failures)} failing seed(s):")
        print(total.failure_report(limit=20))
    return 1 if total.failures else 0


def _replay(args: argparse.Namespace) -> int:
    with environment(args.postgres) as env:
        result = run(_config(args, args.replay), env)
    if args.trace:
        print("\n".join(result.trace))
    print(result.report())
    print(f"injection points: {len(result.points)}, invariants checked: {result.invariants_checked}, "
          f"digest {result.digest}")
    return 0 if result.ok else 1


def _exhaustive(args: argparse.Namespace) -> int:
    """Exit status 1 when a run breaks an invariant outside the known windows."""
    unexplained = 0
    with environment(args.postgres) as env:
        for scenario in [args.scenario] if args.scenario else EXHAUSTIVE_SCENARIOS:
            outcome = exhaustive(scenario, env)
            print(outcome.line())
            for (kind, point), results in sorted(outcome.by_window().items()):
                known = [name for name, bug in KNOWN_ENGINE_BUGS.items()
                         if (kind, point) in bug.leave_out or (kind, point) == bug.shown_by[0]
                         or (bug.avoid and bug.scenario == scenario)]
                print(f"  {kind} at {point}: {len(results)} failing run(s)"
                      + (f" [known: {known[0]}]" if known else " [NOT a known window]"))
                print(f"    {results[0].report()}".replace("\n", "\n    "))
                unexplained += 0 if known else len(results)
    return 1 if unexplained else 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.replay is not None:
        return _replay(args)
    if args.exhaustive:
        return _exhaustive(args)
    return _explore(args)


if __name__ == "__main__":
    sys.exit(main())
