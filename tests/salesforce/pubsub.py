"""The Salesforce simulator's Pub/Sub API on a free port, and a client of it with a session of the org."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc

from adapters.salesforce.auth import SalesforceSession
from adapters.salesforce.pubsub.subscriber import PubSubChangeFeed
from sandbox.salesforce_sim import SalesforceSimulator
from sandbox.salesforce_sim.ids import ORG_ID
from sandbox.salesforce_sim.pubsub_server import serve_pubsub
from sandbox.tls import make_certificate

TOPIC = "/data/OpportunityChangeEvent"


@contextmanager
def running_pubsub(directory: Path) -> Iterator[tuple[SalesforceSimulator, int, Path]]:
    """A simulated org and its Pub/Sub API server: (simulator, port, CA file)."""
    cert = make_certificate(directory)
    sim = SalesforceSimulator()
    grpc_server, port = serve_pubsub(sim.pubsub, cert_file=cert.cert_file, key_file=cert.key_file)
    yield sim, port, cert.ca_file
    grpc_server.stop(grace=0)


def feed(server, *, token: str | None = None, org: str | None = ORG_ID, topic: str = TOPIC, batch: int = 2):
    sim, port, ca_file = server
    session = SalesforceSession(token or sim.sessions.issue(), "https://127.0.0.1", org)
    return PubSubChangeFeed(target=f"127.0.0.1:{port}", login=lambda: session, topic=topic, batch_size=batch,
                            credentials=grpc.ssl_channel_credentials(ca_file.read_bytes()), timeout=5)
