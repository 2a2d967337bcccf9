"""Command line: run the daemon and the admin commands (the checkout's entry point adds `sandbox`).

Every command reads its settings as `connector.admin.operator_env` says (`--env-file`, `.env`, or the
sandbox's), and ends a failure with one line on stderr and a non-zero exit status, never a traceback
(`--debug` shows it)."""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings
from connector.admin import receipt_commands
from connector.admin.operator_env import CliError, load_settings, one_line, require_salesforce, require_state
from connector.runtime import provider_registry

_OPPORTUNITY_ID = re.compile(r"006[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?")


def _secrets(settings: Settings) -> list[str]:
    from connector.runtime.provider_registry import all_provider_settings

    values = [settings.salesforce_client_secret, settings.salesforce_password, settings.salesforce_security_token,
              settings.salesforce_outbound_message_token, settings.admin_token, settings.admin_password]
    own = [v.get_secret_value() for v in values if v is not None]
    return own + [secret for provider in all_provider_settings(settings).values()
                  for secret in provider.secret_values()]


def _stop_on_signal() -> threading.Event:
    """An event set by SIGINT or SIGTERM (installed before start-up, so that a replica stopped while it starts
    still shuts down in order)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def cmd_run(args: argparse.Namespace) -> int:
    from connector.ports.crm import CRMError
    from connector.receipts.seal import ReceiptKeyError
    from connector.runtime.allocator import limit_arenas
    from connector.runtime.daemon import bootstrap
    from connector.runtime.logs import configure_logging
    from connector.runtime.providers import ProviderConfigError
    from mappings.loader import MappingError

    limit_arenas()  # before any thread starts: see connector.runtime.allocator
    settings = load_settings(args.env_file, use_sandbox=False)  # the sandbox runs a daemon of its own
    secrets = _secrets(settings) + ([settings.metrics_token.get_secret_value()] if settings.metrics_token else [])
    configure_logging(settings.log_level, secrets, settings.log_format)
    stop = _stop_on_signal()
    try:
        daemon = bootstrap(settings)
    except (ProviderConfigError, MappingError, CRMError, ReceiptKeyError) as exc:
        print(f"cannot start: {exc}\nSee config/example.env for every setting, or run `make sandbox` to try the "
              "connector against simulators.", file=sys.stderr)
        return 2
    daemon.start()
    stop.wait()
    log = logging.getLogger("connector")
    log.info("stopping (SIGTERM or SIGINT): up to %.0fs for the steps under way", settings.shutdown_grace_seconds)
    if not daemon.stop(grace=settings.shutdown_grace_seconds):
        log.warning("steps still under way after %.0fs (CONNECTOR_SHUTDOWN_GRACE_SECONDS) are abandoned: their "
                    "leases run out and another replica, or the next start, resumes them",
                    settings.shutdown_grace_seconds)
        logging.shutdown()
        os._exit(0)  # the abandoned worker threads would hold the interpreter's exit
    log.info("stopped")
    return 0


def _progress(message: str) -> None:
    """A step of a command that may take a while, on stderr (stdout stays the result)."""
    print(f"... {message}", file=sys.stderr, flush=True)


def _open_state(args: argparse.Namespace):
    from connector.store import Store

    settings = load_settings(args.env_file)
    require_state(settings)
    store = Store(settings.database_url)
    store.migrate()
    return store


def cmd_status(args: argparse.Namespace) -> int:
    store = _open_state(args)
    key_path = load_settings(args.env_file).receipt_key_path
    if args.watch is None:
        _print_status(store, key_path)
        return 0
    try:
        while True:
            print("\033[H\033[J" if sys.stdout.isatty() else "", end="")
            print(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  (every {args.watch:g}s; Ctrl+C stops)")
            _print_status(store, key_path)
            sys.stdout.flush()
            time.sleep(args.watch)
    except KeyboardInterrupt:
        return 0


def _print_status(store, receipt_key: Path) -> None:
    import json

    from connector.admin.receipt_commands import key_status
    from connector.runtime.api_budget import STATE_KEY, describe
    from connector.store import JobState

    counts = store.count_jobs_by_state()
    print("jobs by state:", ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none")
    outcomes: dict[str, int] = {}
    for (state, outcome, _, _), count in store.count_jobs_by_kind().items():
        if state == "done":
            outcomes[outcome or "unknown"] = outcomes.get(outcome or "unknown", 0) + count
    if outcomes:
        print("finished jobs by outcome:", ", ".join(f"{k}={v}" for k, v in sorted(outcomes.items())))
    print("webhook events:", ", ".join(f"{k}={v}" for k, v in sorted(store.count_events().items())) or "none")
    budget = store.get_value(STATE_KEY)
    print(describe(json.loads(budget) if budget else None))
    from connector.runtime import push_source

    print(push_source.describe(store.get_value(push_source.STATE_KEY)))
    if store.engine.dialect.name == "postgresql":
        from connector.runtime.leader import current_leader

        with store.engine.connect() as connection:
            print("poller:", current_leader(connection) or "none (no replica running)")
    print(key_status(receipt_key))
    issued, head = store.receipts.head()
    print(f"receipts issued: {issued}" + (f", the last sha256 {head}" if head else ""))
    for job in store.list_jobs(states=[JobState.PARKED]):
        print(f"parked {job.id} opportunity {job.opportunity_id} rule {job.rule_id} "
              f"(at step {job.parked_from}): {job.last_error}")


def cmd_retry(args: argparse.Namespace) -> int:
    import getpass

    from connector.store import ResumeResult

    store = _open_state(args)
    ids = _needing_action(store) if args.all_failed else [args.job]
    by = f"{getpass.getuser()} (command line)"
    resumed = 0
    for job_id in ids:
        outcome = store.resume(job_id, by=by)
        if outcome.ok:
            resumed += 1
            print(outcome.message)
        elif outcome.result is ResumeResult.UNKNOWN:
            raise CliError(f"{outcome.message} (`status` lists the parked ones)", code=1)
        elif not args.all_failed:
            raise CliError(f"cannot retry: {outcome.message}", code=1)
    print(f"resumed {resumed} job(s)")
    return 0


def _needing_action(store) -> list[str]:
    """Every parked job and every job refused before sending, oldest first."""
    from connector.store import JobFilter

    ids: list[str] = []
    while page := store.search_jobs(JobFilter(needs_action=True), offset=len(ids), limit=500).jobs:
        ids += [job.id for job in page]
    return ids[::-1]


def cmd_migrate(args: argparse.Namespace) -> int:
    from connector.store import Store

    settings = load_settings(args.env_file)
    _progress(f"migrating the state database ({settings.database_url.split('://', 1)[0]})")
    Store(settings.database_url).migrate()
    print("database schema is up to date")
    return 0


def cmd_check_mappings(args: argparse.Namespace) -> int:
    from mappings.loader import MappingError, load_mapping

    settings = load_settings(args.env_file)
    paths = [Path(p) for p in args.paths] or [settings.mappings_path]
    describe: Callable[[str], dict] | None = None
    failed = False
    if args.against_org:
        from adapters.salesforce import build_crm
        from connector.admin.org_push import PushFindings, check_outbound_messages
        from connector.ports.crm import CRMError

        require_salesforce(settings)
        client = build_crm(settings).client
        _progress(f"logging in to Salesforce at {settings.salesforce_login_url}")
        client.check_login()
        cache: dict[str, dict] = {}
        try:
            push = check_outbound_messages(settings, lambda soql: client.call(
                "a Tooling API query on WorkflowOutboundMessage",
                lambda sf: sf.toolingexecute("query/", params={"q": soql})))
        except CRMError as exc:  # the Tooling API needs the View Setup and Configuration permission
            push = PushFindings([], [f"could not read the org's outbound messages ({exc.message}); not checked"])
        for line in push.problems:
            print(f"outbound messages: {line}")
        for line in push.notes:
            print(f"outbound messages (note): {line}")
        failed = bool(push.problems)

        def describe_object(name: str) -> dict:
            if name not in cache:
                _progress(f"reading the {name} fields and picklists from the org")
                cache[name] = client.call(f"describe {name}", lambda sf: getattr(sf, name).describe())
            return cache[name]

        describe = describe_object

    for path in paths:
        try:
            mapping = load_mapping(path, provider_registry.names())
        except MappingError as exc:
            failed = True
            for problem in exc.problems:
                print(problem)
            continue
        problems = []
        try:
            from connector.engine.delivery import check_embedded_delivery
            from connector.runtime.providers import adapter_classes

            check_embedded_delivery(mapping, adapter_classes(), settings.writeback, path)
        except MappingError as exc:
            problems.extend(exc.problems)
        from connector.runtime.providers import language_problems

        problems.extend(language_problems(mapping, adapter_classes(), path))
        if describe is not None:
            from connector.admin.org_check import check_against_org

            problems.extend(check_against_org(mapping, path, describe, settings.writeback))
        for problem in problems:
            print(problem)
        failed = failed or bool(problems)
        if not problems:
            print(f"{path}: {len(mapping.rules)} rule(s) OK" + (" against the org" if describe else ""))
    if args.against_org:
        from adapters.salesforce import build_change_feed
        from connector.admin.cdc_check import push_trigger_report

        line, push_problem = push_trigger_report(settings, build_change_feed(settings))
        print(line)
        failed = failed or push_problem
    return 1 if failed else 0


def cmd_plan(args: argparse.Namespace) -> int:
    from adapters.salesforce import build_crm
    from connector.admin.plan_command import run_plan
    from connector.documents.selection import PdfLimits
    from connector.runtime.providers import build_providers
    from mappings.loader import load_mapping

    if not _OPPORTUNITY_ID.fullmatch(args.opportunity):
        raise CliError(f"--opportunity {args.opportunity!r} is not an Opportunity Id (15 or 18 letters and digits, "
                       "starting 006)")
    settings = load_settings(args.env_file)
    require_salesforce(settings)
    crm = build_crm(settings)
    _progress(f"logging in to Salesforce at {settings.salesforce_login_url}")
    crm.check_login()
    _progress(f"reading opportunity {args.opportunity} and its files")
    return run_plan(
        crm=crm, providers=build_providers(settings),
        mapping=load_mapping(settings.mappings_path, provider_registry.names()),
        opportunity_id=args.opportunity, callback_base_url=settings.public_base_url,
        limits=PdfLimits.from_settings(settings),
        templates_dir=settings.mappings_path.parent,
    )


@dataclass(frozen=True)
class ExtraCommand:
    """A command the product does not ship, added by the entry point that has it (the checkout's sandbox)."""

    name: str
    add_parser: Callable[[argparse._SubParsersAction], None]
    run: Callable[[argparse.Namespace], int]


def build_parser(extra: Sequence[ExtraCommand] = ()) -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env-file", metavar="PATH", default=argparse.SUPPRESS,
                        help="read settings from this file (default: ./.env, else the sandbox's after `make sandbox`)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="on failure, show the traceback too")
    parser = argparse.ArgumentParser(prog="run_connector.py", description=__doc__, parents=[common],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", parents=[common],
                   help="run the daemon with settings from the environment / .env / --env-file (default)")
    for command in extra:
        command.add_parser(sub)
    status = sub.add_parser("status", parents=[common],
                            help="jobs by state, Salesforce API usage, parked jobs and their reasons")
    status.add_argument("--watch", nargs="?", type=float, const=5.0, metavar="SECONDS",
                        help="refresh every SECONDS (default 5) until Ctrl+C")
    retry = sub.add_parser("retry", parents=[common], help="resume a parked job, or re-send one refused before "
                           "sending once its data is fixed; --all-failed: every such job")
    target = retry.add_mutually_exclusive_group(required=True)
    target.add_argument("job", nargs="?", help="job id")
    target.add_argument("--all-failed", action="store_true")
    sub.add_parser("migrate", parents=[common], help="create or upgrade the state database schema")
    plan = sub.add_parser("plan", parents=[common], help="dry run: what the rules would send for one opportunity")
    plan.add_argument("--opportunity", required=True, help="Opportunity Id")
    check = sub.add_parser("check-mappings", parents=[common], help="validate mapping files")
    check.add_argument("paths", nargs="*")
    check.add_argument("--against-org", action="store_true",
                       help="also check stages, contact roles and write-back fields in the connected org")
    receipt_commands.add_parsers(sub)
    return parser


COMMANDS = {"run": cmd_run, "status": cmd_status, "retry": cmd_retry,
            "migrate": cmd_migrate, "check-mappings": cmd_check_mappings, "plan": cmd_plan,
            "verify-receipt": receipt_commands.cmd_verify_receipt, "receipt-key": receipt_commands.cmd_receipt_key}


def main(argv: list[str] | None = None, extra: Sequence[ExtraCommand] = ()) -> int:
    args = build_parser(extra).parse_args(argv)
    args.env_file = getattr(args, "env_file", None)
    args.debug = getattr(args, "debug", False)
    commands = COMMANDS | {command.name: command.run for command in extra}
    try:
        return commands[args.command or "run"](args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - an operator gets one line; --debug shows the traceback
        if args.debug:
            traceback.print_exc()
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 1
