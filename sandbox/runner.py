"""`run_connector.py sandbox`: a simulated org and provider on localhost, and the daemon on them.

The simulators keep their data in memory, so every sandbox run starts from fresh demo data and
a fresh state database. The Salesforce simulator speaks HTTPS (simple-salesforce insists) with
a certificate made here; its console is also served over plain HTTP for the browser.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from adapters.transport.session import make_session
from config.settings import REPO_ROOT, Settings
from connector.runtime import provider_registry
from connector.runtime.daemon import Daemon, bootstrap
from connector.runtime.logs import configure_logging
from connector.runtime.provider_registry import all_provider_settings
from connector.runtime.servers import RunningServer, serve_in_thread
from sandbox import faultspec
from sandbox.legalsign_sim import LegalsignSimulator
from sandbox.onespan_sim import OneSpanSimulator
from sandbox.salesforce_sim import SalesforceSimulator
from sandbox.salesforce_sim.pubsub_server import serve_pubsub
from sandbox.signrequest_sim import SignRequestSimulator
from sandbox.tls import make_certificate

log = logging.getLogger(__name__)

SF_CLIENT_ID = "sandbox-client-id"
SF_CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 - the simulator's own demo credential
SIGNREQUEST_TOKEN = "sandbox-signrequest-token"  # noqa: S105 - the simulator's own demo credential
ONESPAN_KEY = "sandbox-onespan-key"  # noqa: S105 - the simulator's own demo credential
ONESPAN_CALLBACK_KEY = "sandbox-onespan-callback-key"  # noqa: S105 - the sandbox's own demo value
LEGALSIGN_KEY = "sandbox-legalsign-key"  # noqa: S105 - the simulator's own demo credential
LEGALSIGN_CALLBACK_SECRET = "sandbox-legalsign-callback-secret"  # noqa: S105 - the sandbox's own demo value
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "sandbox-admin-password"  # noqa: S105 - the sandbox's own demo value (README "Operating it")
# Salesforce API (HTTPS), Salesforce console, SignRequest, OneSpan, Legalsign
SANDBOX_PORTS = (8443, 8090, 8091, 8092, 8093)
SANDBOX_PUBSUB_PORT = 8444  # the Salesforce simulator's Pub/Sub API (gRPC over TLS)


@dataclass
class Sandbox:
    salesforce: SalesforceSimulator
    signrequest: SignRequestSimulator
    salesforce_api: RunningServer
    salesforce_console: RunningServer
    signrequest_server: RunningServer
    onespan: OneSpanSimulator
    onespan_server: RunningServer
    legalsign: LegalsignSimulator
    legalsign_server: RunningServer
    settings: Settings
    http_session: requests.Session
    ca_file: Path
    pubsub_server: Any = None  # grpc.Server

    def stop(self) -> None:
        if self.pubsub_server is not None:
            self.salesforce.bus.drop_streams()
            self.pubsub_server.stop(grace=0.5)
        self.salesforce.close()
        self.signrequest.close()
        self.onespan.close()
        self.legalsign.close()
        for server in (self.legalsign_server, self.onespan_server, self.signrequest_server, self.salesforce_console,
                       self.salesforce_api):
            server.stop()


def _port_or_free(preferred: int) -> int:
    """`preferred` when it is free, so the sandbox's URLs stay the same from run to run."""
    if not preferred:
        return 0
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            log.warning("port %d is taken; using a free one", preferred)
            return 0
    return preferred


def start_simulators(state_dir: Path, *, webhook_port: int, database_url: str | None = None, seed: bool = True,
                     ports: tuple[int, ...] = (0, 0, 0, 0, 0), faults: str | None = None, pubsub_port: int = 0,
                     **overrides) -> Sandbox:
    """Start the simulators and return settings that point a daemon at them. `ports` are the preferred
    Salesforce API, Salesforce console, SignRequest, OneSpan and Legalsign ports (0: any free port);
    `faults` is a fault plan in the form `sandbox.faultspec` documents. The Pub/Sub API (change events) is
    served too, on `pubsub_port`; the daemon subscribes only with salesforce_cdc_enabled=True."""
    state_dir.mkdir(parents=True, exist_ok=True)
    cert = make_certificate(state_dir / "tls")
    salesforce = SalesforceSimulator(consumer_key=SF_CLIENT_ID, consumer_secret=SF_CLIENT_SECRET)
    if seed:
        salesforce.seed_demo()
    api_port, console_port, signrequest_port, onespan_port, legalsign_port = (_port_or_free(p) for p in ports)
    sf_api = serve_in_thread(salesforce.app, port=api_port, ssl_certfile=str(cert.cert_file),
                             ssl_keyfile=str(cert.key_file))
    sf_console = serve_in_thread(salesforce.app, port=console_port)
    pubsub_server, bound_pubsub = serve_pubsub(salesforce.pubsub, cert_file=cert.cert_file, key_file=cert.key_file,
                                               port=_port_or_free(pubsub_port))
    signrequest = SignRequestSimulator(api_token=SIGNREQUEST_TOKEN)
    sr_server = serve_in_thread(signrequest.app, port=signrequest_port)
    signrequest.public_url = sr_server.url
    onespan = OneSpanSimulator(api_key=ONESPAN_KEY)
    onespan_server = serve_in_thread(onespan.app, port=onespan_port)
    onespan.public_url = onespan_server.url
    legalsign = LegalsignSimulator(api_key=LEGALSIGN_KEY)
    legalsign_server = serve_in_thread(legalsign.app, port=legalsign_port)
    legalsign.public_url = legalsign_server.url
    if faults:
        faultspec.apply(faults, {"salesforce": salesforce, "signrequest": signrequest, "onespan": onespan,
                                 "legalsign": legalsign})
    values = dict(
        database_url=database_url or f"sqlite:///{state_dir / 'connector.db'}",
        receipt_key_file=state_dir / "receipt-signing-key.pem",  # with the state, whichever the database
        mappings_path=REPO_ROOT / "mappings" / "rules.yaml",
        salesforce_login_url=sf_api.url,
        salesforce_auth_flow="client_credentials",
        salesforce_client_id=SF_CLIENT_ID,
        salesforce_client_secret=SF_CLIENT_SECRET,
        salesforce_ca_bundle=cert.ca_file,
        signrequest_api_token=SIGNREQUEST_TOKEN,
        signrequest_base_url=f"{sr_server.url}/api/v1",
        signrequest_download_hosts=[sr_server.authority],
        onespan_api_key=ONESPAN_KEY,
        onespan_base_url=onespan_server.url,
        onespan_callback_key=ONESPAN_CALLBACK_KEY,
        legalsign_username=legalsign.username,
        legalsign_api_key=LEGALSIGN_KEY,
        legalsign_group=legalsign.group,
        legalsign_base_url=f"{legalsign_server.url}/api/v1",
        legalsign_callback_secret=LEGALSIGN_CALLBACK_SECRET,
        legalsign_download_hosts=[legalsign_server.authority],
        webhook_port=webhook_port,
        public_base_url=f"http://127.0.0.1:{webhook_port}",
        provider_downloads_https_only=False,
        poll_interval_seconds=3,
        status_check_minutes=1,
        salesforce_pubsub_endpoint=f"127.0.0.1:{bound_pubsub}",
        admin_username=ADMIN_USERNAME,
        admin_password=ADMIN_PASSWORD,
    )
    settings = Settings(_env_file=None, **{**values, **overrides})
    session = make_session(cert.ca_file)
    return Sandbox(salesforce, signrequest, sf_api, sf_console, sr_server, onespan, onespan_server, legalsign,
                   legalsign_server, settings, session, cert.ca_file, pubsub_server)


def settings_env(settings: Settings) -> dict[str, str]:
    """`settings` as CONNECTOR_* environment variables, to run the daemon as a separate process."""
    env = _as_variables("CONNECTOR_", settings.model_dump(exclude={"writeback"}))
    for name, own in all_provider_settings(settings).items():
        env.update(_as_variables(provider_registry.plugin(name).env_prefix, own.model_dump()))  # type: ignore[attr-defined]
    return env


def _as_variables(prefix: str, values: dict) -> dict[str, str]:
    env = {}
    for name, value in values.items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"{prefix}{name.upper()}"] = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return env


def start_daemon(sandbox: Sandbox) -> Daemon:
    return bootstrap(sandbox.settings, http_session=sandbox.http_session)


def write_env_file(settings: Settings, path: Path) -> None:
    """The sandbox's settings as an env file, where the command line finds them (connector.admin.operator_env)."""
    lines = ["# Written by `run_connector.py sandbox` for the command line run from the checkout; rewritten each run."]
    for name, value in sorted(settings_env(settings).items()):
        if "'" in value or "\n" in value:
            raise ValueError(f"{name} cannot be written to an env file as it is")
        lines.append(f"{name}='{value}'")  # single quotes: dotenv reads the value as it is (JSON lists too)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_sandbox(*, state_dir: Path, webhook_port: int, faults: str | None = None) -> int:
    state_dir = state_dir.resolve()  # the env file's paths work from any directory
    db = state_dir / "connector.db"
    for stale in (db, db.with_suffix(".db-wal"), db.with_suffix(".db-shm")):
        stale.unlink(missing_ok=True)
    # Push triggers on: a stage change reaches the daemon as a change event, and a poll every minute sweeps up.
    sandbox = start_simulators(state_dir, webhook_port=webhook_port, ports=SANDBOX_PORTS, faults=faults,
                               pubsub_port=SANDBOX_PUBSUB_PORT, salesforce_cdc_enabled=True,
                               poll_sweep_interval_seconds=60)
    configure_logging(sandbox.settings.log_level, [SF_CLIENT_SECRET, SIGNREQUEST_TOKEN, ONESPAN_KEY,
                                                   ONESPAN_CALLBACK_KEY, LEGALSIGN_KEY, LEGALSIGN_CALLBACK_SECRET,
                                                   ADMIN_PASSWORD],
                      sandbox.settings.log_format)
    write_env_file(sandbox.settings, state_dir / "sandbox.env")
    daemon = start_daemon(sandbox)
    daemon_url = daemon.start()
    print(f"""
Sandbox running. Open in a browser:
  Salesforce console (move a deal to "Contract Sent", "Proposal", "Negotiation" or "Verbal Commitment"):
                                                                {sandbox.salesforce_console.url}/sandbox/
  Signing pages (sign or decline as each signer; an SMS code step shows the code it would text):
    SignRequest:                                                {sandbox.signrequest_server.url}/
    OneSpan Sign:                                               {sandbox.onespan_server.url}/sandbox/
    Legalsign:                                                  {sandbox.legalsign_server.url}/sandbox/
  Daemon readiness and metrics:                                 {daemon_url}/readyz  {daemon_url}/metrics
  Admin page (user {ADMIN_USERNAME}, password {ADMIN_PASSWORD}):   {daemon_url}/admin/
Salesforce API (HTTPS, CA {sandbox.ca_file}): {sandbox.salesforce_api.url}
Salesforce Pub/Sub API (change events, gRPC over TLS): {sandbox.settings.salesforce_pubsub_endpoint}
State database: {db}
Command line (run from this checkout, finds these settings in {state_dir / "sandbox.env"}):
  python run_connector.py status --watch     python run_connector.py plan --opportunity <Id>
Injected faults: {faults or "none"}
Press Ctrl+C to stop.
""", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    daemon.stop()
    sandbox.stop()
    if faults:
        print("Faults injected:", injected_faults(sandbox))
    return 0


def injected_faults(sandbox: Sandbox) -> dict[str, dict[str, int]]:
    """What each simulator injected, by kind."""
    simulators = {"salesforce": sandbox.salesforce, "signrequest": sandbox.signrequest, "onespan": sandbox.onespan,
                  "legalsign": sandbox.legalsign}
    injected = {name: dict(sim.faults.counts()) for name, sim in simulators.items() if sim.faults.counts()}
    if sandbox.salesforce.bus.injected:
        injected["salesforce pubsub"] = dict(sandbox.salesforce.bus.injected)
    return injected
