"""`run_connector.py sandbox`: the command the checkout adds to the product's command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from connector.admin.cli import ExtraCommand
from sandbox import faultspec


def _add_parser(sub: argparse._SubParsersAction) -> None:
    sandbox = sub.add_parser("sandbox", help="run simulated Salesforce and providers, and the daemon, on localhost",
                             epilog="fault plans (--faults):\n" + (faultspec.__doc__ or "").split("\n", 2)[2],
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    sandbox.add_argument("--state-dir", default="sandbox-state", help="where the sandbox keeps its SQLite state")
    sandbox.add_argument("--port", type=int, default=8080, help="webhook/health port of the daemon")
    sandbox.add_argument("--faults", metavar="SPEC", help="inject faults into the simulators (see below), e.g. "
                         "'seed=1; signrequest POST /api/v1/signrequest-quick-create/: 5xx=0.1'")


def _run(args: argparse.Namespace) -> int:
    from sandbox.runner import run_sandbox

    if args.faults:
        try:
            faultspec.parse(args.faults)
        except faultspec.FaultSpecError as problem:
            print(f"--faults: {problem}", file=sys.stderr)
            return 2
    return run_sandbox(state_dir=Path(args.state_dir), webhook_port=args.port, faults=args.faults)


SANDBOX_COMMAND = ExtraCommand(name="sandbox", add_parser=_add_parser, run=_run)
