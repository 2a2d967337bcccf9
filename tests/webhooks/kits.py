"""The three real provider adapters behind the real webhook app and store, with a way to make
an authentic callback for each, so tests can then break one thing at a time."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from starlette.testclient import TestClient

from adapters.legalsign.adapter import LegalsignProvider
from adapters.onespan.adapter import OneSpanProvider
from adapters.signrequest.adapter import SignRequestProvider
from adapters.signrequest.callbacks import event_hash
from connector.inbound.webhooks import build_webhook_app
from connector.ports.provider import SigningProvider
from connector.store import EventCaps, Store

NOW = 1_790_000_000.0  # the providers' clock: 2026-09-21T14:13:20Z
MAX_BODY = 4096
SR_TOKEN = "sr-team-token-0123456789"
OS_CALLBACK_KEY = "os-callback-key-0123456789"
LS_SECRET = "ls-callback-secret-0123456789"
LS_GROUP = "acme"


@dataclass
class Callback:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Kit:
    """`make(request_id, at, **changes)` builds an authentic callback for `request_id` sent at Unix time
    `at`; `forge(callback)` returns the same callback with its credential wrong."""

    name: str
    provider: SigningProvider
    make: Callable[..., Callback]
    forge: Callable[[Callback], Callback]
    secrets: tuple[str, ...] = field(default=())


def signrequest_kit() -> Kit:
    provider = SignRequestProvider(api_token=SR_TOKEN, clock=lambda: NOW)

    def make(request_id: str, at: float = NOW, event_type: str = "signed", **changes) -> Callback:
        event_time = str(int(at))
        body = {"uuid": str(uuid.uuid4()), "event_type": event_type, "event_time": event_time,
                "event_hash": event_hash(SR_TOKEN, event_time, event_type),
                "document": {"uuid": request_id, "external_id": None}, **changes}
        return Callback("/webhooks/signrequest", {"Content-Type": "application/json"}, json.dumps(body).encode())

    def forge(callback: Callback) -> Callback:
        body = json.loads(callback.body)
        body["event_hash"] = event_hash("a-guessed-token", body["event_time"], body["event_type"])
        return Callback(callback.path, callback.headers, json.dumps(body).encode())

    return Kit("signrequest", provider, make, forge, (SR_TOKEN,))


def onespan_kit() -> Kit:
    provider = OneSpanProvider(api_key="os-api-key-0123456789", callback_key=OS_CALLBACK_KEY, clock=lambda: NOW)

    def make(request_id: str, at: float = NOW, name: str = "PACKAGE_COMPLETE", **changes) -> Callback:
        created = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        body = {"@class": "com.silanis.esl.packages.event.ESLProcessEvent", "name": name, "sessionUser": "signer1",
                "packageId": request_id, "message": None, "documentId": None, "createdDate": created, **changes}
        return Callback("/webhooks/onespan", {"Content-Type": "application/json; charset=utf-8",
                                              "Authorization": f"Basic {OS_CALLBACK_KEY}"}, json.dumps(body).encode())

    def forge(callback: Callback) -> Callback:
        return Callback(callback.path, {**callback.headers, "Authorization": "Basic a-guessed-key"}, callback.body)

    return Kit("onespan", provider, make, forge, (OS_CALLBACK_KEY,))


def legalsign_kit() -> Kit:
    provider = LegalsignProvider(username="api-user", api_key="ls-api-key-0123456789", group=LS_GROUP,
                                 callback_secret=LS_SECRET, clock=lambda: NOW)

    def make(request_id: str, at: float = NOW, event: str = "document.finalPdfCreated", **changes) -> Callback:
        body = {"id": str(uuid.uuid4()), "event": event, "created": int(at),
                "data": {"uuid": request_id, "group": f"/api/v1/group/{LS_GROUP}/", "tag": None}, **changes}
        return Callback(provider.callback_path(), {"Content-Type": "application/json"}, json.dumps(body).encode())

    def forge(callback: Callback) -> Callback:
        guessed = LegalsignProvider("api-user", "k", LS_GROUP, callback_secret="a-guessed-secret").callback_path()
        return Callback(guessed, callback.headers, callback.body)

    return Kit("legalsign", provider, make, forge, (LS_SECRET, provider.callback_path_token()))


KITS = {"signrequest": signrequest_kit, "onespan": onespan_kit, "legalsign": legalsign_kit}


@dataclass
class Server:
    """The real webhook app over the real store, and what it woke."""

    client: TestClient
    store: Store
    kit: Kit
    woken: list[int]

    def post(self, callback: Callback):
        return self.client.post(callback.path, content=callback.body, headers=callback.headers)


def webhook_server(kit: Kit, store: Store, caps: EventCaps | None = None) -> Server:
    woken: list[int] = []
    app = build_webhook_app(store=store, providers={kit.name: kit.provider}, max_body_bytes=MAX_BODY,
                            on_event=lambda: woken.append(1), caps=caps)
    return Server(TestClient(app, raise_server_exceptions=False), store, kit, woken)
