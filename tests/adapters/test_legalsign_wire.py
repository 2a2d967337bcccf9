"""The exact HTTP requests the Legalsign adapter sends (Legalesign API v1)."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
import responses
from responses import matchers

from adapters.base import (
    DocumentSpec,
    ProviderTransientError,
    ProviderValidationError,
    RequestRef,
    SignerAuth,
    SignerSpec,
    SigningRequestSpec,
    SigningState,
    WebhookRejected,
)
from adapters.legalsign import LegalsignProvider
from connector.sandbox.pdfgen import text_pdf

API = "https://eu-api.legalesign.com/api/v1"
AUTH = {"Authorization": "ApiKey user123:secret456"}
DOC, PDF_ID = "5d2e0000-0000-4000-8000-000000000001", "7a1b0000-0000-4000-8000-000000000002"
NOW = 1_790_000_000.0
PDF = text_pdf([["page 1"], ["page 2"]])


def provider(**kwargs) -> LegalsignProvider:
    return LegalsignProvider(username="user123", api_key="secret456", group="acme-prod", base_url=API,
                             callback_secret="cb-secret", retry_wait_initial=0, clock=lambda: NOW, **kwargs)


@responses.activate
def test_create_subscribes_uploads_places_fields_and_sends():
    responses.post(f"{API}/subscribe/", status=201, match=[matchers.header_matcher(AUTH), matchers.json_params_matcher(
        {"url": "https://c.example/webhooks/legalsign/x", "notify": "realtime", "eventFilter": "",
         "group": "acme-prod"})])
    responses.post(f"{API}/templatepdf/", status=201, headers={"Location": f"{API}/templatepdf/{PDF_ID}/"},
                   match=[matchers.json_params_matcher({"group": "/api/v1/group/acme-prod/",
                                                        "pdf_file": base64.b64encode(PDF).decode(),
                                                        "title": "Quote Q-1", "process_tags": False})])
    responses.post(f"{API}/templatepdf/{PDF_ID}/fields/", status=201, match=[matchers.json_params_matcher([
        {"ax": 0.08, "ay": 0.78, "bx": 0.46, "by": 0.84, "page": 2, "element_type": "signature", "signer": 1,
         "label": "Signature 1", "optional": False},
        {"ax": 0.54, "ay": 0.78, "bx": 0.92, "by": 0.84, "page": 2, "element_type": "signature", "signer": 2,
         "label": "Signature 2", "optional": False}])])
    responses.post(f"{API}/document/", status=201, headers={"Location": f"/api/v1/document/{DOC}/"},
                   match=[matchers.json_params_matcher({
                       "group": "/api/v1/group/acme-prod/", "name": "Quote Q-1",
                       "templatepdf": f"/api/v1/templatepdf/{PDF_ID}/", "signature_type": 4, "append_pdf": True,
                       "do_email": True, "signers_in_order": True, "auto_archive": False, "reminders": "default",
                       "tag": "job7", "tag1": "2026-10-05T14:13:20Z", "return_signer_links": False,
                       "signers": [
                           {"firstname": "Anne-Marie", "lastname": "O'Neil", "email": "anne@x.io", "subject": "Terms",
                            "message": "Please sign", "sms": "+31612345678", "expires": "2026-10-05T14:13:20",
                            "timezone": "UTC"},
                           {"firstname": "Bob", "lastname": "-", "email": "bob@x.io", "subject": "Terms",
                            "message": "Please sign", "expires": "2026-10-05T14:13:20", "timezone": "UTC"}]})])
    spec = SigningRequestSpec(
        external_id="job7", subject="Terms", message="Please sign", expires_in_days=14,
        callback_url="https://c.example/webhooks/legalsign/x", documents=(DocumentSpec("Quote Q-1", "q.pdf", PDF),),
        signers=(SignerSpec("anne@x.io", "Anne-Marie", "O'Neil", 1, "+31612345678", SignerAuth.SMS),
                 SignerSpec("bob@x.io", "Bob", "", 2)))
    assert provider().create(spec) == RequestRef("legalsign", DOC)


def test_the_callback_path_is_secret_and_checked_in_constant_time():
    adapter = provider()
    token = adapter.callback_token()
    assert adapter.callback_path() == f"/webhooks/legalsign/{token}" and len(token) == 40
    assert adapter.accepts_path_token(token) and not adapter.accepts_path_token(None)
    assert not adapter.accepts_path_token("guess") and token not in repr(adapter)
    assert not LegalsignProvider("u", "k", "g", callback_secret="").accepts_path_token(token)


@responses.activate
def test_find_by_external_id_uses_the_tag():
    responses.get(f"{API}/document/", match=[matchers.query_param_matcher({"group": "acme-prod", "limit": "100"})],
                  json={"meta": {"total_count": 2}, "objects": [{"uuid": "other", "tag": "job1"},
                                                                 {"uuid": DOC, "tag": "job7"}]})
    assert provider().find_by_external_id("job7") == RequestRef("legalsign", DOC)
    assert provider().find_by_external_id("job9") is None


def _document(status: int, signer_statuses=(10, 4), **extra) -> dict:
    return {"uuid": DOC, "status": status, "tag": "job7", "tag1": "2026-10-05T14:13:20Z", "name": "Quote Q-1",
            "download_final": status == 30, "signer_objects": [
                {"uuid": f"s{n}", "email": email, "order": n, "status": code}
                for n, (email, code) in enumerate(zip(("anne@x.io", "bob@x.io"), signer_statuses, strict=True))],
            **extra}


@pytest.mark.parametrize(("document", "state"), [
    (_document(10), SigningState.SENT),
    (_document(10, (20, 4)), SigningState.VIEWED),
    (_document(10, (40, 10)), SigningState.PARTIALLY_SIGNED),
    (_document(30, (40, 40)), SigningState.COMPLETED),
    (_document(40), SigningState.CANCELLED),
    (_document(10, tag1="2026-01-01T00:00:00Z"), SigningState.EXPIRED),
])
@responses.activate
def test_status_mapping(document, state):
    responses.get(f"{API}/document/{DOC}/", json=document, match=[matchers.header_matcher(AUTH)])
    assert provider().get_status(RequestRef("legalsign", DOC)).state == state


@responses.activate
def test_rejection_reason_is_read_from_the_signer():
    responses.get(f"{API}/document/{DOC}/", json=_document(50, (60, 4)))
    responses.get(f"{API}/signer/s0/rejection/", json={"status": 60, "reason": "Wrong address"})
    status = provider().get_status(RequestRef("legalsign", DOC))
    assert (status.state, status.declined_by, status.decline_reason) == (
        SigningState.DECLINED, "anne@x.io", "Wrong address")


@responses.activate
def test_signed_pdf_is_checked_against_hash_value_and_redirects_go_to_allowed_hosts_only():
    signed = b"%PDF final"
    responses.get(f"{API}/document/{DOC}/", json=_document(30, (40, 40), hash_value=hashlib.sha256(signed).hexdigest()))
    responses.get(f"{API}/pdf/{DOC}/", body=signed)
    responses.get(f"{API}/document/{DOC}/auditlog/", body=b"%PDF audit")
    ref = RequestRef("legalsign", DOC)
    assert provider().download_signed(ref)[0].content == signed
    assert provider().download_evidence(ref).content == b"%PDF audit"
    responses.replace(responses.GET, f"{API}/pdf/{DOC}/", status=302,
                      headers={"Location": "https://evil.example/x.pdf"})
    with pytest.raises(ProviderValidationError, match="not one of the provider's configured download hosts"):
        provider().download_signed(ref)


@responses.activate
def test_archived_pdf_being_restored_is_a_passing_error():
    responses.get(f"{API}/document/{DOC}/", json=_document(30, (40, 40)))
    responses.get(f"{API}/pdf/{DOC}/", status=201)
    with pytest.raises(ProviderTransientError, match="restored from the archive"):
        provider().download_signed(RequestRef("legalsign", DOC))


@responses.activate
def test_cancel_voids_and_reminders_go_to_pending_signers():
    responses.delete(f"{API}/document/{DOC}/", status=204, match=[matchers.header_matcher(AUTH)])
    provider().cancel(RequestRef("legalsign", DOC))
    responses.get(f"{API}/document/{DOC}/", json=_document(10, (40, 10)))
    responses.post(f"{API}/signer/s1/send-reminder/", status=200, match=[matchers.json_params_matcher(
        {"text": "A reminder: your signature is still needed."})])
    provider().send_reminder(RequestRef("legalsign", DOC))
    responses.replace(responses.POST, f"{API}/signer/s1/send-reminder/", status=401)
    with pytest.raises(ProviderTransientError, match="could not be sent"):
        provider().send_reminder(RequestRef("legalsign", DOC))


EVENT = {"id": "evt-1", "version": "1", "object": "document", "event": "finalPdfCreated", "created": int(NOW),
         "data": {"uuid": DOC, "tag": "job7", "status": 30}}
JSON = {"content-type": "application/json"}


def test_realtime_callbacks_parse():
    event = provider().parse_webhook(JSON, json.dumps(EVENT).encode())
    assert (event.request_id, event.external_id, event.kind, event.state_hint) == (
        DOC, "job7", "document.finalPdfCreated", SigningState.COMPLETED)
    recipient = {**EVENT, "object": "recipient", "event": "rejected", "data": {"uuid": "s0", "document": DOC}}
    assert provider().parse_webhook(JSON, json.dumps(recipient).encode()).request_id == DOC


@pytest.mark.parametrize(("headers", "body", "status"), [
    ({"content-type": "application/x-www-form-urlencoded"}, b"data=x", 415),
    (JSON, b"nope", 400),
    (JSON, json.dumps({**EVENT, "data": {}}).encode(), 400),
    (JSON, json.dumps({**EVENT, "created": int(NOW) - 7200}).encode(), 400),
])
def test_bad_callbacks_are_refused(headers, body, status):
    with pytest.raises(WebhookRejected) as refused:
        provider().parse_webhook(headers, body)
    assert refused.value.status_code == status
