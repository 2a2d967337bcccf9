"""How the OneSpan adapter authenticates and reads callbacks (Authorization: Basic <callback key>)."""

from __future__ import annotations

import json

import pytest

from adapters.onespan.adapter import OneSpanProvider
from connector.ports.provider import SigningState, WebhookRejected

PKG = "LWsUTvGgE4WpOvaQPT16idnxNj8="
NOW = 1_790_000_000.0  # 2026-09-21T14:13:20Z


def provider(callback_key: str = "cb-key-123") -> OneSpanProvider:
    return OneSpanProvider(api_key="api-key-abc", base_url="https://sandbox.esignlive.com",
                           callback_key=callback_key, clock=lambda: NOW)


def _callback(**changes) -> bytes:
    body = {"@class": "com.silanis.esl.packages.event.ESLProcessEvent", "name": "PACKAGE_COMPLETE",
            "sessionUser": "signer2", "packageId": PKG, "message": None, "documentId": None,
            "createdDate": "2026-09-21T14:13:20.000Z"}
    return json.dumps({**body, **changes}).encode()


GOOD = {"authorization": "Basic cb-key-123", "content-type": "application/json; charset=utf-8"}


@pytest.mark.parametrize(("changes", "state"), [
    ({}, SigningState.COMPLETED),
    ({"name": "PACKAGE_DECLINE", "message": "No budget"}, SigningState.DECLINED),
    ({"name": "PACKAGE_EXPIRE"}, SigningState.EXPIRED),
    ({"name": "PACKAGE_TRASH"}, SigningState.CANCELLED),
    ({"name": "SIGNER_COMPLETE"}, SigningState.PARTIALLY_SIGNED),
    ({"name": "DOCUMENT_SIGNED", "documentId": "doc1"}, SigningState.PARTIALLY_SIGNED),
    ({"name": "DOCUMENT_SIGNED", "documentId": "default-consent"}, SigningState.VIEWED),
    ({"name": "COBROWSE_REQUEST"}, None),  # unknown to us: accepted, no hint
    ({"name": "EMAIL_BOUNCE", "message": "BOUNCE"}, None),
])
def test_callbacks_with_the_key_are_accepted(changes, state):
    event = provider().parse_webhook(GOOD, _callback(**changes))
    assert (event.provider, event.request_id, event.state_hint) == ("onespan", PKG, state)
    assert event.kind == changes.get("name", "PACKAGE_COMPLETE") and event.occurred_at.year == 2026


def test_event_ids_are_stable_and_distinguish_events():
    adapter = provider()
    first = adapter.parse_webhook(GOOD, _callback()).event_id
    assert adapter.parse_webhook(GOOD, _callback()).event_id == first
    # the docs' own examples leave out @class, message and documentId
    slim = json.dumps({"name": "PACKAGE_COMPLETE", "sessionUser": "signer2", "packageId": PKG,
                       "createdDate": "2026-09-21T14:13:20.000Z"}).encode()
    assert adapter.parse_webhook(GOOD, slim).event_id == adapter.parse_webhook(GOOD, _callback()).event_id
    assert adapter.parse_webhook(GOOD, _callback(sessionUser="signer1")).event_id != \
        adapter.parse_webhook(GOOD, _callback()).event_id


@pytest.mark.parametrize(("headers", "body", "status"), [
    ({**GOOD, "authorization": "Basic wrong"}, _callback(), 401),
    ({"content-type": "application/json"}, _callback(), 401),
    # base64 of the key is not the key
    ({**GOOD, "authorization": "Basic Y2Ita2V5LTEyMw=="}, _callback(), 401),
    ({**GOOD, "authorization": "cb-key-123"}, _callback(), 401),
    ({**GOOD, "authorization": "Basic cb-key-123 extra"}, _callback(), 401),
    ({**GOOD, "authorization": "Basic cb-key-12\u00e9"}, _callback(), 401),
    ({**GOOD, "content-type": "text/plain"}, _callback(), 415),
    (GOOD, b"{not json", 400),
    (GOOD, b"[]", 400),
    (GOOD, json.dumps({"name": "PACKAGE_COMPLETE"}).encode(), 400),
    (GOOD, _callback(packageId="../../etc"), 400),
    (GOOD, _callback(createdDate="yesterday"), 400),
])
def test_bad_callbacks_are_refused(headers, body, status):
    with pytest.raises(WebhookRejected) as refused:
        provider().parse_webhook(headers, body)
    assert refused.value.status_code == status
    assert "cb-key-123" not in refused.value.reason


@pytest.mark.parametrize("created", ["2026-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
def test_a_callback_outside_the_replay_window_is_kept_as_a_stale_hint(created):
    # OneSpan does not retry a failed callback: the sender replays the one from the failure e-mail, maybe days on.
    event = provider().parse_webhook(GOOD, _callback(createdDate=created))
    assert event.stale and event.request_id == PKG


def test_without_a_callback_key_every_callback_is_refused():
    adapter = provider(callback_key="")
    with pytest.raises(WebhookRejected):
        adapter.parse_webhook({**GOOD, "authorization": "Basic "}, _callback())
    assert "api-key-abc" not in repr(adapter)
