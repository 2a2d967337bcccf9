"""The webhook server: authenticate, record, acknowledge; refuse everything else with a 4xx."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from connector.inbound.dispatcher import EventDispatcher
from connector.inbound.webhooks import build_webhook_app
from connector.ports.provider import SigningState, WebhookEvent
from connector.store import Store
from tests.fakes import FakeProvider


def _authentic(request_id: str = "req-1") -> dict:
    """An authentic callback as FakeProvider signs it; the same event each time, so a second is a redelivery."""
    headers, body = FakeProvider().callback(request_id, "signed", event_id=f"evt-{request_id}")
    return {"content": body, "headers": headers}


@pytest.fixture
def setup(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    store.migrate()
    woken = []
    app = build_webhook_app(store=store, providers={"fake": FakeProvider()}, max_body_bytes=1000,
                            on_event=lambda: woken.append(1))
    return TestClient(app), store, woken


def test_authentic_event_is_recorded_then_acknowledged(setup):
    client, store, woken = setup
    response = client.post("/webhooks/fake", **_authentic())
    assert (response.status_code, response.text) == (200, "OK")
    [event] = store.unprocessed_events()
    assert (event.provider, event.request_id) == ("fake", "req-1")
    assert woken == [1]


def test_forged_event_is_refused_and_not_recorded(setup):
    client, store, woken = setup
    authentic = _authentic()
    forged = authentic["content"].replace(b'"signed"', b'"declined"')  # the signature no longer matches
    response = client.post("/webhooks/fake", content=forged, headers=authentic["headers"])
    assert response.status_code == 401
    assert store.unprocessed_events() == [] and woken == []


def test_oversized_body_is_refused(setup):
    client, store, _ = setup
    response = client.post("/webhooks/fake", content=b"x" * 1001, headers=_authentic()["headers"])
    assert response.status_code == 413
    assert store.unprocessed_events() == []


def test_unknown_provider_is_404(setup):
    client, _, _ = setup
    assert client.post("/webhooks/docusign", content=b"{}").status_code == 404


def test_duplicate_delivery_is_acknowledged_once_recorded(setup):
    client, store, woken = setup
    for _ in range(2):
        assert client.post("/webhooks/fake", **_authentic()).status_code == 200
    assert len(store.unprocessed_events()) == 1 and woken == [1]


def test_healthz_is_liveness_only(setup):
    client, _, _ = setup
    assert client.get("/healthz").json() == {"status": "ok"}


class HintingProvider(FakeProvider):
    """Body `request:hint`: the hint a real adapter reads from the callback's event type."""

    def parse_webhook(self, headers, body):
        request_id, _, hint = body.decode().partition(":")
        return WebhookEvent(provider=self.name, event_id=body.decode(), request_id=request_id, kind=hint or "unknown",
                            state_hint=SigningState(hint) if hint else None)


@pytest.mark.parametrize(("hint", "wakes"), [("viewed", False), ("partially_signed", False), ("sent", False),
                                             ("completed", True), ("declined", True), ("", True)])
def test_only_events_that_may_end_a_request_wake_its_job(tmp_path, hint, wakes):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    store.migrate()
    job = store.create_job(entry_key="e1", rule_id="r", rule={}, provider="fake", opportunity_id="006A",
                           opportunity={})
    later = datetime.now(UTC) + timedelta(hours=1)
    job.next_run_at, job.request_id = later, "req-1"
    store.save_job(job)
    app = build_webhook_app(store=store, providers={"fake": HintingProvider()}, max_body_bytes=1000)
    response = TestClient(app).post("/webhooks/fake", content=f"req-1:{hint}".encode(),
                                    headers={"X-Fake-Signature": "good"})
    assert response.status_code == 200
    EventDispatcher(store=store, clock=lambda: datetime.now(UTC), orphan_grace=timedelta(minutes=10)).dispatch()
    woken = store.get_job(job.id).next_run_at < later
    assert woken is wakes
    assert store.count_events() == ({"matched": 1} if wakes else {"informational": 1})


class CrashingProvider(FakeProvider):
    """An adapter with a bug the body can reach: the last-resort guard must still answer a 4xx."""

    def parse_webhook(self, headers, body):
        raise {b"key": KeyError, b"type": TypeError, b"recursion": RecursionError}[body]("secret-ish body detail")


@pytest.mark.parametrize("body", [b"key", b"type", b"recursion"])
def test_whatever_a_body_makes_an_adapter_raise_is_a_400_in_one_line(tmp_path, caplog, body):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    store.migrate()
    app = build_webhook_app(store=store, providers={"fake": CrashingProvider()}, max_body_bytes=1000)
    with caplog.at_level(logging.DEBUG):
        response = TestClient(app, raise_server_exceptions=False).post("/webhooks/fake", content=body)
    assert (response.status_code, response.text) == (400, "malformed callback")
    [line] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert line.exc_info is None and "secret-ish" not in line.getMessage()
    assert store.unprocessed_events() == []


def test_readyz_follows_the_daemon_and_healthz_stays_up(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    store.migrate()
    state = {"ready": False}
    app = build_webhook_app(store=store, providers={"fake": FakeProvider()}, max_body_bytes=1000,
                            ready=lambda: state["ready"])
    client = TestClient(app)
    assert client.get("/readyz").status_code == 503  # starting
    state["ready"] = True
    assert client.get("/readyz").json() == {"status": "ready", "checks": {}}
    state["ready"] = False  # shutting down: the load balancer stops sending callbacks here
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200
    assert client.post("/webhooks/fake", **_authentic()).status_code == 200


def test_readyz_names_each_check_and_fails_on_any(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    store.migrate()
    results = {"database": True, "salesforce": True}
    client = TestClient(build_webhook_app(store=store, providers={}, max_body_bytes=1000,
                                          checks=lambda: dict(results)))
    assert client.get("/readyz").json() == {"status": "ready", "checks": {"database": "ok", "salesforce": "ok"}}
    results["salesforce"] = False
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "not ready", "checks": {"database": "ok", "salesforce": "failed"}}


def test_metrics_asks_for_the_bearer_token_when_one_is_set(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    store.migrate()
    app = build_webhook_app(store=store, providers={}, max_body_bytes=1000, metrics=lambda: b"m 1\n",
                            metrics_token="scrape-token")
    client = TestClient(app)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answer = client.get("/metrics", headers={"Authorization": "Bearer scrape-token"})
    assert answer.status_code == 200 and answer.text == "m 1\n"
    without = TestClient(build_webhook_app(store=store, providers={}, max_body_bytes=1000))
    assert without.get("/metrics").status_code == 404
