"""The exact HTTP requests the OneSpan adapter sends."""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP

import pytest
import responses
from responses import matchers

from adapters.base import (
    DocumentSpec,
    ProviderAuthError,
    ProviderValidationError,
    RequestRef,
    SignerAuth,
    SignerSpec,
    SigningRequestSpec,
    SigningState,
    WebhookRejected,
)
from adapters.onespan import OneSpanProvider
from connector.sandbox.pdfgen import text_pdf

BASE = "https://sandbox.esignlive.com"
API = f"{BASE}/api"
KEY = "b25lc3Bhbi1rZXk6c2VjcmV0"
PKG = "LWsUTvGgE4WpOvaQPT16idnxNj8="
NOW = 1_790_000_000.0
PDF = text_pdf([["page 1"], ["page 2"]])


def provider() -> OneSpanProvider:
    return OneSpanProvider(api_key=KEY, base_url=BASE, callback_key="cb-key-123", retry_wait_initial=0,
                           clock=lambda: NOW)


def _parts(request) -> list[tuple[dict, bytes]]:
    raw = b"Content-Type: " + request.headers["Content-Type"].encode() + b"\r\n\r\n" + request.body
    message = BytesParser(policy=HTTP).parsebytes(raw)
    return [(dict(part.items()), part.get_payload(decode=True)) for part in message.iter_parts()]


@responses.activate
def test_create_registers_the_callback_then_creates_a_draft_sets_reminders_and_sends():
    responses.post(f"{API}/callback", json={}, match=[
        matchers.header_matcher({"Authorization": f"Basic {KEY}"}),
        matchers.json_params_matcher({"url": "https://c.example/webhooks/onespan", "key": "cb-key-123", "events": [
            "PACKAGE_COMPLETE", "PACKAGE_DECLINE", "PACKAGE_OPT_OUT", "PACKAGE_EXPIRE", "PACKAGE_TRASH",
            "PACKAGE_DELETE", "SIGNER_COMPLETE", "DOCUMENT_SIGNED", "DOCUMENT_VIEWED"]})])
    responses.post(f"{API}/packages", json={"id": PKG})
    responses.post(f"{API}/packages/{PKG}/reminders", json={}, match=[matchers.json_params_matcher(
        {"packageId": PKG, "startInDaysDelay": 2, "intervalInDays": 3, "repetitionsCount": 4})])
    responses.post(f"{API}/packages/{PKG}", body=b"", match=[matchers.json_params_matcher({"status": "SENT"})])
    spec = SigningRequestSpec(
        external_id="job-7", subject="Proposal: Acme", message="Please sign",
        callback_url="https://c.example/webhooks/onespan", expires_in_days=14,
        documents=(DocumentSpec("Quote: Q/1", "Quote Q-1.pdf", PDF), DocumentSpec("Terms", "Terms.pdf", PDF)),
        signers=(SignerSpec("dana@x.io", "Dana", "Lee", 1, "+15550100", SignerAuth.SMS),
                 SignerSpec("eli@x.io", "Eli", "Buyer", 2)))
    assert provider().create(spec) == RequestRef("onespan", PKG)

    parts = _parts(responses.calls[1].request)
    assert [h["Content-Disposition"] for h, _ in parts] == [
        'form-data; name="payload"', 'form-data; name="file"; filename="Quote- Q-1"',
        'form-data; name="file"; filename="Terms"']
    assert b'name="payload"\r\nContent-Type: text/plain; charset=UTF-8\r\n' in responses.calls[1].request.body
    assert parts[1][1] == PDF and parts[2][0]["Content-Type"] == "application/pdf"
    payload = json.loads(parts[0][1])
    box = {"page": 1, "top": 682, "left": 60, "width": 200, "height": 50}
    box2 = {**box, "left": 300}
    assert payload == {
        "name": "Proposal: Acme", "description": "Please sign", "emailMessage": "Please sign", "type": "PACKAGE",
        "status": "DRAFT", "autocomplete": True, "settings": {"ceremony": {"declineButton": True}},
        "due": "2026-10-05T14:13:20Z", "data": {"externalId": "job-7", "origin": "esign-connector"},
        "roles": [
            {"id": "signer1", "name": "signer1", "type": "SIGNER", "index": 1, "signers": [
                {"id": "signer1", "email": "dana@x.io", "firstName": "Dana", "lastName": "Lee",
                 "auth": {"scheme": "SMS", "challenges": [{"question": "+15550100"}]}, "delivery": {"email": True}}]},
            {"id": "signer2", "name": "signer2", "type": "SIGNER", "index": 2, "signers": [
                {"id": "signer2", "email": "eli@x.io", "firstName": "Eli", "lastName": "Buyer",
                 "auth": {"scheme": "NONE", "challenges": []}, "delivery": {"email": True}}]}],
        "documents": [
            {"id": f"doc{n}", "name": name, "index": n, "approvals": [
                {"role": "signer1", "fields": [{"type": "SIGNATURE", "subtype": "FULLNAME", **box}]},
                {"role": "signer2", "fields": [{"type": "SIGNATURE", "subtype": "FULLNAME", **box2}]}]}
            for n, name in ((1, "Quote- Q-1"), (2, "Terms"))],
    }


@responses.activate
def test_find_by_external_id_sends_a_draft_left_behind():
    responses.get(f"{API}/packages", match=[matchers.query_param_matcher({
        "query": "inbox", "predefined": "all", "sort": "created", "dir": "desc", "from": "1", "to": "100"})],
        json={"count": 2, "results": [{"id": "other", "data": {"externalId": "job-x"}, "status": "SENT"},
                                      {"id": PKG, "data": {"externalId": "job-7"}, "status": "DRAFT"}]})
    responses.post(f"{API}/packages/{PKG}", body=b"", match=[matchers.json_params_matcher({"status": "SENT"})])
    assert provider().find_by_external_id("job-7") == RequestRef("onespan", PKG)
    assert provider().find_by_external_id("job-none") is None


def _package(status="SENT", signed=(None, None), **extra) -> dict:
    return {"id": PKG, "status": status, "data": {"externalId": "job-7"}, "roles": [
        {"id": "owner", "type": "SENDER", "signers": [{"email": "sender@x.io"}]},
        {"id": "signer1", "type": "SIGNER", "index": 1, "signers": [{"email": "dana@x.io"}]},
        {"id": "signer2", "type": "SIGNER", "index": 2, "signers": [{"email": "eli@x.io"}]}],
        "documents": [{"id": "default-consent", "approvals": []}, {"id": "doc1", "name": "Quote", "index": 1,
                                                                    "approvals": [
            {"role": "signer1", "signed": signed[0]}, {"role": "signer2", "signed": signed[1]}]}], **extra}


@pytest.mark.parametrize(("package", "state"), [
    (_package(), SigningState.SENT),
    (_package(signed=("2026-01-01T00:00:00Z", None)), SigningState.PARTIALLY_SIGNED),
    (_package("COMPLETED", ("t", "t"), completed="t"), SigningState.COMPLETED),
    (_package("EXPIRED"), SigningState.EXPIRED),
    (_package(trashed=True), SigningState.CANCELLED),
    (_package("DECLINED", messages=[{"content": "No budget", "from": {"email": "dana@x.io"}}]), SigningState.DECLINED),
])
@responses.activate
def test_status_mapping(package, state):
    responses.get(f"{API}/packages/{PKG}", json=package, match=[matchers.header_matcher(
        {"Authorization": f"Basic {KEY}"})])
    status = provider().get_status(RequestRef("onespan", PKG))
    assert status.state == state and [s.email for s in status.signers] == ["dana@x.io", "eli@x.io"]
    if state == SigningState.DECLINED:
        assert (status.declined_by, status.decline_reason) == ("dana@x.io", "No budget")


@responses.activate
def test_downloads_each_document_then_the_evidence_summary():
    responses.get(f"{API}/packages/{PKG}", json=_package("COMPLETED", ("t", "t"), completed="t"))
    responses.get(f"{API}/packages/{PKG}/documents/doc1/pdf", body=b"%PDF signed", match=[matchers.header_matcher(
        {"Accept": "application/octet-stream; esl-api-version=11.68.0"})])
    responses.get(f"{API}/packages/{PKG}/evidence/summary", body=b"%PDF evidence")
    ref = RequestRef("onespan", PKG)
    assert [(f.filename, f.content) for f in provider().download_signed(ref)] == [("Quote - signed.pdf",
                                                                                  b"%PDF signed")]
    assert provider().download_evidence(ref).content == b"%PDF evidence"


@responses.activate
def test_signed_documents_before_completion_are_refused():
    responses.get(f"{API}/packages/{PKG}", json=_package())
    with pytest.raises(ProviderValidationError, match="package is SENT"):
        provider().download_signed(RequestRef("onespan", PKG))


@responses.activate
def test_cancel_pulls_back_then_trashes_and_reminders_notify_pending_signers():
    responses.post(f"{API}/packages/{PKG}", body=b"", match=[matchers.json_params_matcher({"status": "DRAFT"})])
    responses.post(f"{API}/packages/{PKG}", body=b"", match=[matchers.json_params_matcher({"trashed": True})])
    provider().cancel(RequestRef("onespan", PKG))
    responses.get(f"{API}/packages/{PKG}", json=_package(signed=("t", None)))
    responses.post(f"{API}/packages/{PKG}/notifications", body=b"",
                   match=[matchers.json_params_matcher({"email": "eli@x.io"})])
    provider().send_reminder(RequestRef("onespan", PKG))
    assert len(responses.calls) == 4


@responses.activate
def test_error_body_is_read_and_the_key_never_shown():
    responses.get(f"{API}/packages/{PKG}", status=401, json={
        "code": 401, "messageKey": "error.unauthorised.noApiKey", "message": "Missing or invalid API key."})
    with pytest.raises(ProviderAuthError) as refused:
        provider().get_status(RequestRef("onespan", PKG))
    assert "Missing or invalid API key. (error.unauthorised.noApiKey)" in str(refused.value)
    assert KEY not in str(refused.value)


CALLBACK = json.dumps({"@class": "com.silanis.esl.packages.event.ESLProcessEvent", "name": "PACKAGE_COMPLETE",
                       "sessionUser": "signer2", "packageId": PKG, "message": None, "documentId": None,
                       "createdDate": "2026-09-21T14:13:20.000Z"}).encode()
GOOD = {"authorization": "Basic cb-key-123", "content-type": "application/json; charset=utf-8"}


def test_callback_with_the_key_is_accepted():
    event = provider().parse_webhook(GOOD, CALLBACK)
    assert (event.request_id, event.kind, event.state_hint) == (PKG, "PACKAGE_COMPLETE", SigningState.COMPLETED)
    assert provider().parse_webhook(GOOD, CALLBACK).event_id == event.event_id  # same event, same id


@pytest.mark.parametrize(("headers", "body", "status"), [
    ({**GOOD, "authorization": "Basic wrong"}, CALLBACK, 401),
    ({"content-type": "application/json"}, CALLBACK, 401),
    ({**GOOD, "authorization": "Basic Y2Ita2V5LTEyMw=="}, CALLBACK, 401),  # base64 of the key is not the key
    ({**GOOD, "content-type": "text/plain"}, CALLBACK, 415),
    (GOOD, b"{not json", 400),
    (GOOD, json.dumps({"name": "PACKAGE_COMPLETE"}).encode(), 400),
    (GOOD, CALLBACK.replace(b"2026-09-21", b"2026-01-01"), 400),  # outside the replay window
])
def test_bad_callbacks_are_refused(headers, body, status):
    with pytest.raises(WebhookRejected) as refused:
        provider().parse_webhook(headers, body)
    assert refused.value.status_code == status
