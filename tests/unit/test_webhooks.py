"""The webhook server: authenticate, record, acknowledge; refuse everything else with a 4xx."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from connector.fakes import FakeProvider
from connector.store import Store
from connector.webhooks import build_webhook_app


@pytest.fixture
def setup(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    store.migrate()
    woken = []
    app = build_webhook_app(store=store, providers={"fake": FakeProvider()}, max_body_bytes=1000,
                            on_event=lambda: woken.append(1), health=lambda: {"jobs": {}})
    return TestClient(app), store, woken


def test_authentic_event_is_recorded_then_acknowledged(setup):
    client, store, woken = setup
    response = client.post("/webhooks/fake", content=b"req-1", headers={"X-Fake-Signature": "good"})
    assert (response.status_code, response.text) == (200, "OK")
    [event] = store.unprocessed_events()
    assert (event.provider, event.request_id) == ("fake", "req-1")
    assert woken == [1]


def test_forged_event_is_refused_and_not_recorded(setup):
    client, store, woken = setup
    response = client.post("/webhooks/fake", content=b"req-1", headers={"X-Fake-Signature": "forged"})
    assert response.status_code == 401
    assert store.unprocessed_events() == [] and woken == []


def test_oversized_body_is_refused(setup):
    client, store, _ = setup
    response = client.post("/webhooks/fake", content=b"x" * 1001, headers={"X-Fake-Signature": "good"})
    assert response.status_code == 413
    assert store.unprocessed_events() == []


def test_unknown_provider_is_404(setup):
    client, _, _ = setup
    assert client.post("/webhooks/docusign", content=b"{}").status_code == 404


def test_duplicate_delivery_is_acknowledged_once_recorded(setup):
    client, store, woken = setup
    for _ in range(2):
        assert client.post("/webhooks/fake", content=b"req-1", headers={"X-Fake-Signature": "good"}).status_code == 200
    assert len(store.unprocessed_events()) == 1 and woken == [1]


def test_healthz(setup):
    client, _, _ = setup
    assert client.get("/healthz").json() == {"status": "ok", "jobs": {}}
