"""One harness per provider: its adapter wired to its simulator over HTTP, and the signer actions.

A new adapter joins the contract suite by adding a harness here.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from adapters.base import RequestRef, SigningProvider
from adapters.legalsign import LegalsignProvider
from adapters.onespan import OneSpanProvider
from adapters.signrequest import SignRequestProvider
from connector.sandbox.legalsign_sim import LegalsignSimulator
from connector.sandbox.onespan_sim import OneSpanSimulator
from connector.sandbox.servers import serve_in_thread
from connector.sandbox.signrequest_sim import SignRequestSimulator


@dataclass
class Callbacks:
    """Raw callbacks as the daemon's webhook endpoint would receive them."""

    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def receive(request: Request):
            body = await request.body()
            with self.lock:
                self.received.append(({k.lower(): v for k, v in request.headers.items()}, body))
            return PlainTextResponse("OK")

        return Starlette(routes=[Route("/hook", receive, methods=["POST"])])


class Harness:
    name: str
    provider: SigningProvider
    callbacks: Callbacks
    callback_url: str

    def sign(self, ref: RequestRef, email: str) -> None: ...
    def view(self, ref: RequestRef, email: str) -> None: ...
    def decline(self, ref: RequestRef, email: str, reason: str) -> None: ...
    def expire(self, ref: RequestRef) -> None: ...
    def reminders_sent(self, ref: RequestRef) -> int: ...
    def wait_for_callbacks(self) -> None: ...

    def forge(self, headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        """A callback an attacker could send, derived from a real one."""
        raise NotImplementedError


class SignRequestHarness(Harness):
    name = "signrequest"

    def __init__(self, base: str, callbacks: Callbacks, callback_url: str, sim: SignRequestSimulator):
        self.sim, self.callbacks, self.callback_url = sim, callbacks, callback_url
        self.provider = SignRequestProvider(api_token=sim.api_token, base_url=f"{base}/api/v1",
                                            download_hosts=["127.0.0.1"], require_https_downloads=False,
                                            retry_wait_initial=0)

    def sign(self, ref, email):
        self.sim.sign(ref.request_id, email)

    def view(self, ref, email):
        self.sim.view(ref.request_id, email)

    def decline(self, ref, email, reason):
        self.sim.decline(ref.request_id, email, reason)

    def expire(self, ref):
        self.sim.expire(ref.request_id)

    def reminders_sent(self, ref):
        return self.sim.store.documents[ref.request_id].reminders

    def forge(self, headers, body):
        # event_hash covers event_time + event_type: claiming another event type breaks it.
        return headers, json.dumps({**json.loads(body), "event_type": "declined"}).encode()

    def wait_for_callbacks(self):
        self.sim.wait_for_deliveries()
        time.sleep(0.05)


@contextmanager
def signrequest_harness() -> Iterator[Harness]:
    callbacks = Callbacks()
    receiver = serve_in_thread(callbacks.app())
    sim = SignRequestSimulator(api_token="contract-token", callback_retry_delays=(0.05,))
    server = serve_in_thread(sim.app)
    sim.public_url = server.url
    try:
        yield SignRequestHarness(server.url, callbacks, f"{receiver.url}/hook", sim)
    finally:
        sim.close()
        server.stop()
        receiver.stop()


class OneSpanHarness(Harness):
    name = "onespan"

    def __init__(self, base: str, callbacks: Callbacks, callback_url: str, sim: OneSpanSimulator):
        self.sim, self.callbacks, self.callback_url = sim, callbacks, callback_url
        self.provider = OneSpanProvider(api_key=sim.api_key, base_url=base, callback_key="contract-callback-key",
                                        retry_wait_initial=0)

    def sign(self, ref, email):
        self.sim.sign(ref.request_id, email)

    def view(self, ref, email):
        self.sim.view(ref.request_id, email)

    def decline(self, ref, email, reason):
        self.sim.decline(ref.request_id, email, reason)

    def expire(self, ref):
        self.sim.expire(ref.request_id)

    def reminders_sent(self, ref):
        return self.sim.packages[ref.request_id].notifications

    def forge(self, headers, body):
        # The callback key travels in the Authorization header; an attacker does not have it.
        return {**headers, "authorization": "Basic guessed-key"}, body

    def wait_for_callbacks(self):
        self.sim.wait_for_deliveries()
        time.sleep(0.05)


@contextmanager
def onespan_harness() -> Iterator[Harness]:
    callbacks = Callbacks()
    receiver = serve_in_thread(callbacks.app())
    sim = OneSpanSimulator(api_key="contract-api-key")
    server = serve_in_thread(sim.app)
    sim.public_url = server.url
    try:
        yield OneSpanHarness(server.url, callbacks, f"{receiver.url}/hook", sim)
    finally:
        sim.close()
        server.stop()
        receiver.stop()


class LegalsignHarness(Harness):
    name = "legalsign"

    def __init__(self, base: str, callbacks: Callbacks, callback_url: str, sim: LegalsignSimulator):
        self.sim, self.callbacks, self.callback_url = sim, callbacks, callback_url
        self.now = time.time()
        self.provider = LegalsignProvider(username=sim.username, api_key=sim.api_key, group=sim.group,
                                          base_url=f"{base}/api/v1", callback_secret="contract-secret",
                                          download_hosts=["127.0.0.1"], require_https_downloads=False,
                                          retry_wait_initial=0, clock=lambda: self.now)

    def sign(self, ref, email):
        self.sim.sign(ref.request_id, email)

    def view(self, ref, email):
        self.sim.view(ref.request_id, email)

    def decline(self, ref, email, reason):
        self.sim.decline(ref.request_id, email, reason)

    def expire(self, ref):
        # Legalesign has no expired status: signers' deadlines pass; the adapter reports it.
        self.sim.expire(ref.request_id)
        self.now += 31 * 86400

    def reminders_sent(self, ref):
        return sum(s.reminders for s in self.sim.documents[ref.request_id].signers)

    def wait_for_callbacks(self):
        self.sim.wait_for_deliveries()
        time.sleep(0.05)

    def forge(self, headers, body):
        # No verifiable signature: an attacker's body is refused only if malformed or stale (the webhook server
        # also requires the secret path). A replay of an old event is the attack the adapter itself refuses.
        event = json.loads(body)
        return headers, json.dumps({**event, "created": event["created"] - 3600}).encode()


@contextmanager
def legalsign_harness() -> Iterator[Harness]:
    callbacks = Callbacks()
    receiver = serve_in_thread(callbacks.app())
    sim = LegalsignSimulator(callback_retry_delays=(0.05,))
    server = serve_in_thread(sim.app)
    sim.public_url = server.url
    try:
        yield LegalsignHarness(server.url, callbacks, f"{receiver.url}/hook", sim)
    finally:
        sim.close()
        server.stop()
        receiver.stop()


HARNESSES = {"signrequest": signrequest_harness, "onespan": onespan_harness, "legalsign": legalsign_harness}
