"""The benchmark's world: Salesforce and SignRequest simulators behind `Throttle`s, and the daemon as a
separate process pointed at them through its CONNECTOR_* settings only.

The daemon is driven the way an admin runs it (`run_connector.py run`), so the figures hold for
whatever the engine does inside; we read it from the outside: its health endpoint, its RSS in /proc,
and what the simulators saw.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from config.settings import REPO_ROOT, Settings
from connector.runtime.servers import RunningServer, free_port, serve_in_thread
from sandbox.runner import SF_CLIENT_ID, SF_CLIENT_SECRET, SIGNREQUEST_TOKEN, settings_env
from sandbox.salesforce_sim import SalesforceSimulator
from sandbox.salesforce_sim.pubsub_server import serve_pubsub
from sandbox.signrequest_sim import SignRequestSimulator
from sandbox.throttle import Throttle
from sandbox.tls import make_certificate

STAGE = "Contract Sent"
# One rule, one signer who signs by email: a signing completes with a single `sign` call.
MAPPING = f"""version: 1
rules:
  - id: bench-quote
    trigger:
      stages: ["{STAGE}"]
    provider: signrequest
    documents:
      title_pattern: "Quote*"
    signers:
      - role: Decision Maker
    subject: "Please sign: {{{{Opportunity.Name}}}}"
    message: "Benchmark signing for {{{{Account.Name}}}}."
    send_reminders: false
    cancel_on: ["Closed Lost"]
"""


@dataclass
class Conditions:
    provider_latency: float = 0.150
    salesforce_latency: float = 0.150
    provider_rate: float | None = 50.0


@dataclass
class World:
    state_dir: Path
    salesforce: SalesforceSimulator
    signrequest: SignRequestSimulator
    salesforce_net: Throttle
    provider_net: Throttle
    servers: list[RunningServer]
    settings: Settings
    ca_file: Path
    pubsub_server: Any = None  # the Salesforce simulator's Pub/Sub API (grpc.Server)

    def set_conditions(self, conditions: Conditions) -> None:
        self.provider_net.latency_seconds = conditions.provider_latency
        self.provider_net.rate_per_second = conditions.provider_rate
        self.salesforce_net.latency_seconds = conditions.salesforce_latency
        self.salesforce.pubsub.latency_seconds = conditions.salesforce_latency

    def stop(self) -> None:
        if self.pubsub_server is not None:
            self.salesforce.bus.drop_streams()
            self.pubsub_server.stop(grace=0.5)
        self.signrequest.close()
        for server in self.servers:
            server.stop()


def start_world(state_dir: Path, conditions: Conditions, **overrides) -> World:
    state_dir.mkdir(parents=True, exist_ok=True)
    cert = make_certificate(state_dir / "tls")
    salesforce = SalesforceSimulator(consumer_key=SF_CLIENT_ID, consumer_secret=SF_CLIENT_SECRET,
                                     daily_api_limit=10**9)
    salesforce_net = Throttle(salesforce.app, latency_seconds=conditions.salesforce_latency)
    sf_server = serve_in_thread(salesforce_net, ssl_certfile=str(cert.cert_file), ssl_keyfile=str(cert.key_file))
    salesforce.pubsub.latency_seconds = conditions.salesforce_latency
    pubsub_server, pubsub_port = serve_pubsub(salesforce.pubsub, cert_file=cert.cert_file, key_file=cert.key_file)
    # Callbacks leave in parallel over kept-alive connections, as a provider delivers at volume; one
    # at a time they would queue behind each other and the latency measured would be the simulator's.
    signrequest = SignRequestSimulator(api_token=SIGNREQUEST_TOKEN, callback_retry_delays=(0.2, 0.5, 1.0),
                                       callback_workers=16)
    provider_net = Throttle(signrequest.app, latency_seconds=conditions.provider_latency,
                            rate_per_second=conditions.provider_rate)
    sr_server = serve_in_thread(provider_net)
    signrequest.public_url = sr_server.url
    mapping = state_dir / "bench-rules.yaml"
    mapping.write_text(MAPPING)
    webhook_port = free_port()
    values = dict(
        database_url=f"sqlite:///{state_dir / 'connector.db'}", mappings_path=mapping,
        receipt_key_file=state_dir / "receipt-signing-key.pem",
        salesforce_login_url=sf_server.url, salesforce_auth_flow="client_credentials",
        salesforce_client_id=SF_CLIENT_ID, salesforce_client_secret=SF_CLIENT_SECRET,
        salesforce_ca_bundle=cert.ca_file,
        signrequest_api_token=SIGNREQUEST_TOKEN, signrequest_base_url=f"{sr_server.url}/api/v1",
        signrequest_download_hosts=[sr_server.authority], provider_downloads_https_only=False,
        webhook_port=webhook_port, public_base_url=f"http://127.0.0.1:{webhook_port}",
        poll_interval_seconds=1, poll_overlap_seconds=5, work_interval_seconds=0.2, status_check_minutes=0.5,
        retry_base_seconds=0.5, mappings_reload_seconds=600, log_level="WARNING",
        # As an admin sets their plan's limit: the connector paces itself to the provider's cap.
        signrequest_max_requests_per_second=conditions.provider_rate or 0,
        salesforce_pubsub_endpoint=f"127.0.0.1:{pubsub_port}",
    )
    settings = Settings(_env_file=None, **{**values, **overrides})
    return World(state_dir, salesforce, signrequest, salesforce_net, provider_net, [sf_server, sr_server], settings,
                 cert.ca_file, pubsub_server)


class DaemonProcess:
    """`run_connector.py run` in its own process, with its settings in the environment."""

    def __init__(self, world: World, name: str = "daemon", port: int | None = None):
        """`port`: a replica's own webhook port, behind the world's public URL (benchmarks/replicas.py)."""
        port = port or world.settings.webhook_port
        self.env = {**os.environ, **settings_env(world.settings), "REQUESTS_CA_BUNDLE": str(world.ca_file),
                    "PYTHONUNBUFFERED": "1", "CONNECTOR_WEBHOOK_PORT": str(port)}
        self.health_url = f"http://127.0.0.1:{port}/healthz"
        self.webhook_url = f"http://127.0.0.1:{port}/webhooks/signrequest"
        self.log_path = world.state_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> float:
        """Start and wait until the health endpoint answers; returns the seconds that took."""
        started = time.perf_counter()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, str(REPO_ROOT / "run_connector.py"), "run"],
                                            env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.process.returncode}; see {self.log_path}")
            try:
                if requests.get(self.health_url, timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except requests.RequestException:
                pass
            time.sleep(0.01)
        raise RuntimeError(f"daemon not ready after {timeout}s; see {self.log_path}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def memory(self) -> tuple[int, int]:
        """(current RSS, peak RSS) in bytes of the daemon and its child processes (PDF probes, say),
        from /proc; the peak adds each process's own peak, so it is an upper bound."""
        current = peak = 0
        for pid in _process_tree(self.pid):
            try:
                rss, hwm = _rss(pid)
            except (FileNotFoundError, ProcessLookupError):
                continue  # a child that ended between listing and reading
            current, peak = current + rss, peak + hwm
        return current, peak

    def health(self) -> dict:
        """Whether it polls, its worker id and its jobs by state, from /metrics (/healthz tells only that it is
        alive)."""
        text = requests.get(self.health_url.replace("/healthz", "/metrics"), timeout=5).text
        samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
        jobs: dict[str, int] = {}
        for sample in samples:
            if sample.name == "connector_jobs":
                jobs[sample.labels["state"]] = jobs.get(sample.labels["state"], 0) + int(sample.value)
        push = next((s.labels["state"] for s in samples if s.name == "connector_push_state" and s.value == 1), "off")
        return {"poller": any(s.name == "connector_poller" and s.value == 1 for s in samples), "jobs": jobs,
                "push": {"state": push},
                "worker_id": next(s.labels["worker_id"] for s in samples if s.name == "connector_replica_info")}

    def log_tail(self, chars: int = 2000) -> str:
        return self.log_path.read_bytes()[-chars:].decode(errors="replace")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _process_tree(pid: int) -> list[int]:
    pids, index = [pid], 0
    while index < len(pids):
        for task in Path(f"/proc/{pids[index]}/task").glob("*/children"):
            try:
                pids += [int(child) for child in task.read_text().split()]
            except FileNotFoundError:
                pass
        index += 1
    return pids


def _rss(pid: int) -> tuple[int, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024
    return fields["VmRSS"], fields["VmHWM"]


class Session:
    """A world plus a daemon, for one benchmark; `with Session(...) as (world, daemon)`."""

    def __init__(self, conditions: Conditions, *, start_daemon: bool = True, **overrides):
        self.conditions, self.start_daemon, self.overrides = conditions, start_daemon, overrides
        self._tmp = tempfile.TemporaryDirectory(prefix="connector-bench-")
        self.world: World | None = None
        self.daemon: DaemonProcess | None = None
        self.ready_seconds: float | None = None

    def __enter__(self) -> tuple[World, DaemonProcess]:
        self.world = start_world(Path(self._tmp.name), self.conditions, **self.overrides)
        self.daemon = DaemonProcess(self.world)
        if self.start_daemon:
            self.ready_seconds = self.daemon.start()
        return self.world, self.daemon

    def __exit__(self, *exc) -> None:
        if self.daemon:
            self.daemon.stop()
        if self.world:
            self.world.stop()
        self._tmp.cleanup()
