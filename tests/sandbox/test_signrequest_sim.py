"""The SignRequest simulator over HTTP: auth, validation, order, callbacks, file links, pages."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading

import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from connector.sandbox.pdfgen import text_pdf
from connector.sandbox.servers import serve_in_thread
from connector.sandbox.signrequest_sim import ActionRefused, SignRequestSimulator

TOKEN = "sim-token"


class Receiver:
    def __init__(self):
        self.events: list[dict] = []
        self.fail_next = 0
        self.lock = threading.Lock()

        async def receive(request: Request):
            with self.lock:
                if self.fail_next:
                    self.fail_next -= 1
                    return PlainTextResponse("boom", status_code=500)
                self.events.append(await request.json())
            return PlainTextResponse("OK")

        self.app = Starlette(routes=[Route("/hook", receive, methods=["POST"])])


@pytest.fixture
def sr():
    sim = SignRequestSimulator(api_token=TOKEN, callback_retry_delays=(0.05, 0.05, 0.05))
    server = serve_in_thread(sim.app)
    sim.public_url = server.url
    receiver = Receiver()
    hook = serve_in_thread(receiver.app)
    yield sim, f"{server.url}/api/v1", receiver, f"{hook.url}/hook"
    sim.close()
    hook.stop()
    server.stop()


def _create(api, callback, signers=None, **extra):
    body = {"file_from_content": base64.b64encode(text_pdf([["Q"]])).decode(), "file_from_content_name": "q.pdf",
            "external_id": "job-9", "events_callback_url": callback, "who": "o",
            "signers": signers or [{"email": "a@x.io", "order": 1}, {"email": "b@x.io", "order": 2}], **extra}
    return requests.post(f"{api}/signrequest-quick-create/", json=body, headers={"Authorization": f"Token {TOKEN}"},
                         timeout=5)


def test_requests_without_the_token_get_401(sr):
    _, api, _, _ = sr
    response = requests.get(f"{api}/documents/", headers={"Authorization": "Token wrong"}, timeout=5)
    assert (response.status_code, response.json()) == (401, {"detail": "Invalid token."})
    assert requests.get(f"{api}/documents", headers={"Authorization": f"Token {TOKEN}"}, timeout=5).status_code == 404


def test_quick_create_shape_and_list_by_external_id(sr):
    sim, api, _, callback = sr
    response = _create(api, callback)
    assert response.status_code == 201
    body = response.json()
    assert body["document"].startswith(f"{api}/documents/") and body["url"].startswith(f"{api}/signrequests/")
    assert [s["email"] for s in body["signers"]] == ["sender@sandbox.example", "a@x.io", "b@x.io"]
    assert body["signers"][0]["needs_to_sign"] is False
    listed = requests.get(f"{api}/documents/", params={"external_id": "job-9"},
                          headers={"Authorization": f"Token {TOKEN}"}, timeout=5).json()
    assert listed["count"] == 1 and listed["results"][0]["status"] == "se"
    assert sim.create_calls == 1


def test_validation_errors_are_field_maps(sr):
    sim, api, _, callback = sr
    response = _create(api, callback, signers=[{"order": 1}, {"email": "not-an-email"}])
    assert response.status_code == 400
    assert response.json() == {"signers": [{"email": ["This field is required."]},
                                           {"email": ["Enter a valid email address."]}]}
    too_long = _create(api, callback, subject="x" * 513)
    assert too_long.json() == {"subject": ["Ensure this field has no more than 512 characters."]}
    assert sim.create_calls == 0


def test_order_is_enforced_and_signed_event_is_authentic(sr):
    sim, api, receiver, callback = sr
    document = _create(api, callback).json()["document"].rstrip("/").rsplit("/", 1)[-1]
    with pytest.raises(ActionRefused, match="must wait for a@x.io"):
        sim.sign(document, "b@x.io")
    sim.sign(document, "a@x.io")
    sim.sign(document, "b@x.io")
    sim.wait_for_deliveries()
    kinds = [e["event_type"] for e in receiver.events]
    assert kinds == ["converted", "sent", "signer_signed", "signer_signed", "signed"]
    signed = receiver.events[-1]
    expected = hmac.new(TOKEN.encode(), f"{signed['event_time']}signed".encode(), hashlib.sha256).hexdigest()
    assert signed["event_hash"] == expected and isinstance(signed["event_time"], str)
    pdf = requests.get(signed["document"]["pdf"], timeout=5).content
    log = requests.get(signed["document"]["signing_log"]["pdf"], timeout=5).content
    assert hashlib.sha256(pdf).hexdigest() == signed["document"]["security_hash"]
    assert hashlib.sha256(log).hexdigest() == signed["document"]["signing_log"]["security_hash"]


def test_file_links_expire_after_five_minutes(sr):
    sim, api, _, callback = sr
    _create(api, callback)
    link = sim.documents()[0]["file"]
    assert requests.get(link, timeout=5).status_code == 200
    now = sim.store.monotonic()
    sim.store.monotonic = lambda: now + 301
    assert requests.get(link, timeout=5).status_code == 403


def test_decline_cancel_and_expire_rules(sr):
    sim, api, receiver, callback = sr
    headers = {"Authorization": f"Token {TOKEN}"}
    first = _create(api, callback).json()
    document = first["document"].rstrip("/").rsplit("/", 1)[-1]
    sim.decline(document, "a@x.io", "Too expensive")
    assert sim.document(document)["signrequest"]["signers"][1]["message"] == "Too expensive"
    refused = requests.post(f"{api}/signrequests/{first['uuid']}/cancel_signrequest/", json={}, headers=headers,
                            timeout=5)
    assert refused.status_code == 400
    second = _create(api, callback).json()
    cancelled = requests.post(f"{api}/signrequests/{second['uuid']}/cancel_signrequest/", json={}, headers=headers,
                              timeout=5)
    assert (cancelled.status_code, cancelled.json()) == (201, {"detail": "OK", "cancelled": True})
    third = _create(api, callback).json()["document"].rstrip("/").rsplit("/", 1)[-1]
    sim.expire(third)
    sim.wait_for_deliveries()
    assert {"declined", "cancelled", "expired"} <= {e["event_type"] for e in receiver.events}


def test_callbacks_are_retried_after_a_server_error(sr):
    sim, api, receiver, callback = sr
    receiver.fail_next = 2
    _create(api, callback)
    sim.wait_for_deliveries()
    converted = [d for d in sim.deliveries if d["event_type"] == "converted"]
    assert [d["status_code"] for d in converted] == [500, 500, 200]
    assert [e["event_type"] for e in receiver.events] == ["converted", "sent"]


def test_signing_page_signs_through_http(sr):
    sim, api, _, callback = sr
    document = _create(api, callback).json()["document"].rstrip("/").rsplit("/", 1)[-1]
    page = requests.get(sim.signing_url(document, "b@x.io"), timeout=5)
    assert "Waiting for a@x.io to sign first" in page.text
    first = sim.signing_url(document, "a@x.io")
    assert "Type your full name to sign" in requests.get(first, timeout=5).text
    done = requests.post(first, data={"action": "sign", "full_name": "A"}, timeout=5)
    assert "You have signed" in done.text
    assert sim.document(document)["signrequest"]["signers"][1]["signed"] is True
    declined = requests.post(sim.signing_url(document, "b@x.io"), data={"action": "decline", "reason": "No"},
                             timeout=5)
    assert declined.status_code == 200 and sim.document(document)["status"] == "de"
