"""One harness per provider: its adapter wired to its simulator over HTTP, and the signer actions.

The simulators share the signer-action names (sign, view, decline, expire), so a harness only
says how to build its adapter, count reminders and forge a callback. A new adapter joins the
contract suite by adding a harness here. FakeProvider (tests/fakes.py), the unit tests' provider,
runs the same suite in memory, so that it cannot drift from the real adapters.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from adapters.legalsign.adapter import LegalsignProvider
from adapters.onespan.adapter import OneSpanProvider
from adapters.signrequest.adapter import SignRequestProvider
from connector.ports.provider import ProviderCapabilities, RequestRef, SigningProvider
from connector.runtime.servers import serve_in_thread
from sandbox.legalsign_sim import LegalsignSimulator
from sandbox.onespan_sim import OneSpanSimulator
from sandbox.signrequest_sim import SignRequestSimulator
from tests.fakes import FakeProvider


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
    # Whether the provider is reached over HTTP and serves pages (signing pages, file links) a test can open.
    # A harness without it says why; the tests about wire behaviour then say they do not apply to it.
    over_http = True
    no_http_reason = ""

    def __init__(self, sim, base_url: str, callbacks: Callbacks, callback_url: str):
        self.sim, self.callbacks, self.callback_url = sim, callbacks, callback_url
        self.provider: SigningProvider = self.build_provider(base_url)

    def build_provider(self, base_url: str) -> SigningProvider:
        raise NotImplementedError

    def sign(self, ref: RequestRef, email: str) -> None:
        self.sim.sign(ref.request_id, email)

    def view(self, ref: RequestRef, email: str) -> None:
        self.sim.view(ref.request_id, email)

    def decline(self, ref: RequestRef, email: str, reason: str) -> None:
        self.sim.decline(ref.request_id, email, reason)

    def expire(self, ref: RequestRef) -> None:
        self.sim.expire(ref.request_id)

    def wait_for_callbacks(self) -> None:
        self.sim.wait_for_deliveries()
        time.sleep(0.05)

    def reminders_sent(self, ref: RequestRef) -> int:
        raise NotImplementedError

    def emailed(self, ref: RequestRef, email: str) -> bool:
        """Whether the simulator sent `email` an invitation for this request."""
        raise NotImplementedError

    def forge(self, headers: dict[str, str], body: bytes) -> tuple[dict[str, str], bytes]:
        """A callback an attacker could send, derived from a real one."""
        raise NotImplementedError


class SignRequestHarness(Harness):
    def build_provider(self, base_url):
        # The simulator serves its file links itself: host and port of its base URL.
        return SignRequestProvider(api_token=self.sim.api_token, base_url=f"{base_url}/api/v1",
                                   download_hosts=[urlsplit(base_url).netloc], require_https_downloads=False,
                                   retry_wait_initial=0)

    def reminders_sent(self, ref):
        return self.sim.store.documents[ref.request_id].reminders

    def emailed(self, ref, email):
        return self.sim.store.documents[ref.request_id].signer(email).emailed

    def forge(self, headers, body):
        # event_hash covers event_time + event_type: claiming another event type breaks it.
        return headers, json.dumps({**json.loads(body), "event_type": "declined"}).encode()


class OneSpanHarness(Harness):
    def build_provider(self, base_url):
        return OneSpanProvider(api_key=self.sim.api_key, base_url=base_url, callback_key="contract-callback-key",
                               retry_wait_initial=0)

    def reminders_sent(self, ref):
        return self.sim.packages[ref.request_id].notifications

    def forge(self, headers, body):
        # The callback key travels in the Authorization header; an attacker does not have it.
        return {**headers, "authorization": "Basic guessed-key"}, body


class LegalsignHarness(Harness):
    def build_provider(self, base_url):
        self.now = time.time()
        return LegalsignProvider(username=self.sim.username, api_key=self.sim.api_key, group=self.sim.group,
                                 base_url=f"{base_url}/api/v1", callback_secret="contract-secret",
                                 download_hosts=[urlsplit(base_url).netloc], require_https_downloads=False,
                                 retry_wait_initial=0,
                                 clock=lambda: self.now)

    def expire(self, ref):
        # Legalesign has no expired status: the signers' deadline passes and the adapter reports it.
        super().expire(ref)
        self.now += 31 * 86400

    def reminders_sent(self, ref):
        return sum(s.reminders for s in self.sim.documents[ref.request_id].signers)

    def emailed(self, ref, email):
        # Legalesign's do_email is one switch for the whole document.
        return self.sim.documents[ref.request_id].do_email

    def forge(self, headers, body):
        # No verifiable signature: the webhook server requires the secret path before the adapter reads the
        # body. The adapter itself refuses what a realtime callback is not, such as a legacy form post.
        return {**headers, "content-type": "application/x-www-form-urlencoded"}, body


class FakeHarness(Harness):
    """tests.fakes.FakeProvider, the unit tests' provider: it is its own simulator, and its callbacks are handed
    to `callbacks` as the daemon's webhook endpoint would receive them."""

    over_http = False
    no_http_reason = "FakeProvider lives in memory: its signing URLs open no page"

    def build_provider(self, base_url):
        return self.sim

    def wait_for_callbacks(self):
        with self.callbacks.lock:
            self.callbacks.received[:] = [(c.headers, c.body) for c in self.sim.sent_callbacks
                                          if c.url == self.callback_url]

    def reminders_sent(self, ref):
        return self.sim.reminders.count(ref.request_id)

    def emailed(self, ref, email):
        return email in self.sim.requests[ref.request_id].emailed

    def forge(self, headers, body):
        # The signature is an HMAC of the whole body: claiming another event type breaks it.
        return headers, json.dumps({**json.loads(body), "event_type": "declined"}).encode()


def _fake(capabilities: ProviderCapabilities) -> Callable[[], Iterator[Harness]]:
    @contextmanager
    def running() -> Iterator[Harness]:
        yield FakeHarness(FakeProvider(capabilities), "", Callbacks(), "https://connector.example/webhooks/fake")

    return running


def _harness(make_sim: Callable[[], object], harness: type[Harness]) -> Callable[[], Iterator[Harness]]:
    @contextmanager
    def running() -> Iterator[Harness]:
        callbacks = Callbacks()
        receiver = serve_in_thread(callbacks.app())
        sim = make_sim()
        server = serve_in_thread(sim.app)
        sim.public_url = server.url
        try:
            yield harness(sim, server.url, callbacks, f"{receiver.url}/hook")
        finally:
            sim.close()
            server.stop()
            receiver.stop()

    return running


HARNESSES = {
    "signrequest": _harness(lambda: SignRequestSimulator(api_token="contract-token", callback_retry_delays=(0.05,)),
                            SignRequestHarness),
    "onespan": _harness(lambda: OneSpanSimulator(api_key="contract-api-key"), OneSpanHarness),
    "legalsign": _harness(lambda: LegalsignSimulator(callback_retry_delays=(0.05,)), LegalsignHarness),
    # The fake twice: declaring every capability, and none (what it must then refuse).
    "fake": _fake(ProviderCapabilities(sms_authentication=True, multiple_documents=True, embedded_signing=True,
                                       mixed_delivery=True, languages=None, reminder_schedule=True)),
    "fake-plain": _fake(ProviderCapabilities()),
}
