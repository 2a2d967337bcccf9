"""The exact HTTP requests the SignRequest adapter sends, and how it reads the answers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging

import pytest
import responses
from responses import matchers

from adapters.base import (
    DocumentSpec,
    ProviderAuthError,
    ProviderNotFound,
    ProviderQuotaError,
    ProviderRateLimited,
    ProviderTransientError,
    ProviderValidationError,
    RequestRef,
    SignerAuth,
    SignerSpec,
    SigningRequestSpec,
    SigningState,
    WebhookRejected,
)
from adapters.signrequest import SignRequestProvider

BASE = "https://acme.signrequest.com/api/v1"
TOKEN = "sr-secret-token-123"
DOC = "9a8b7c6d-0000-4000-8000-000000000002"
SR = "3f0c7a1e-0000-4000-8000-000000000001"
REF = RequestRef("signrequest", DOC, {"signrequest_uuid": SR})
PDF = b"%PDF-1.4 quote"


def provider(**kwargs) -> SignRequestProvider:
    return SignRequestProvider(api_token=TOKEN, base_url=BASE, from_email="sales@acme.example",
                               retry_wait_initial=0, clock=lambda: 1537889008, **kwargs)


def spec(*signers: SignerSpec, documents=None) -> SigningRequestSpec:
    return SigningRequestSpec(
        external_id="job-1", documents=documents or (DocumentSpec("Quote Q-1", "Quote Q-1.pdf", PDF),),
        signers=signers or (SignerSpec("dana@example.com", "Dana", "Lee", 1),), subject="Please sign",
        message="Hello", callback_url="https://connector.example/webhooks/signrequest", expires_in_days=30)


def headers() -> dict:
    return {"Authorization": f"Token {TOKEN}"}


@responses.activate
def test_create_sends_one_quick_create_with_the_exact_body():
    expected = {
        "file_from_content": base64.b64encode(PDF).decode(), "file_from_content_name": "Quote Q-1.pdf",
        "name": "Quote Q-1.pdf", "external_id": "job-1",
        "events_callback_url": "https://connector.example/webhooks/signrequest", "who": "o",
        "subject": "Please sign", "message": "Hello", "send_reminders": True, "auto_expire_days": 30,
        "from_email": "sales@acme.example",
        "signers": [
            {"email": "dana@example.com", "first_name": "Dana", "last_name": "Lee", "order": 1, "needs_to_sign": True},
            {"email": "eli@example.com", "first_name": "Eli", "last_name": "Buyer", "order": 2, "needs_to_sign": True,
             "verify_phone_number": "+15550100"},
        ],
    }
    responses.post(f"{BASE}/signrequest-quick-create/", status=201,
                   json={"uuid": SR, "document": f"{BASE}/documents/{DOC}/"},
                   match=[matchers.header_matcher({**headers(), "Content-Type": "application/json"}),
                          matchers.json_params_matcher(expected, strict_match=True)])
    ref = provider().create(spec(SignerSpec("dana@example.com", "Dana", "Lee", 1),
                                 SignerSpec("eli@example.com", "Eli", "Buyer", 2, "+15550100", SignerAuth.SMS)))
    assert ref == REF
    assert len(responses.calls) == 1


def test_more_than_one_document_is_refused_before_any_call():
    docs = (DocumentSpec("A", "a.pdf", PDF), DocumentSpec("B", "b.pdf", PDF))
    with pytest.raises(ProviderValidationError, match="exactly one document"):
        provider().create(spec(documents=docs))


@responses.activate
def test_create_is_not_retried_on_a_server_error():
    responses.post(f"{BASE}/signrequest-quick-create/", status=502, body="bad gateway")
    with pytest.raises(ProviderTransientError):
        provider().create(spec())
    assert len(responses.calls) == 1


@responses.activate
def test_find_by_external_id():
    responses.get(f"{BASE}/documents/", match=[matchers.query_param_matcher({"external_id": "job-1"}),
                                               matchers.header_matcher(headers())],
                  json={"count": 1, "next": None, "previous": None, "results": [
                      {"uuid": DOC, "external_id": "job-1", "signrequest": {"uuid": SR}}]})
    responses.get(f"{BASE}/documents/", match=[matchers.query_param_matcher({"external_id": "job-2"})],
                  json={"count": 0, "next": None, "previous": None, "results": []})
    assert provider().find_by_external_id("job-1") == REF
    assert provider().find_by_external_id("job-2") is None


def _document(status: str, signers: list[dict], **extra) -> dict:
    return {"uuid": DOC, "external_id": "job-1", "status": status, "name": "Quote Q-1.pdf", "processing": False,
            "signrequest": {"uuid": SR, "signers": [{"email": "sales@acme.example", "needs_to_sign": False}, *signers]},
            **extra}


@pytest.mark.parametrize(("code", "signed", "state"), [
    ("co", [False, False], SigningState.SENT), ("se", [False, False], SigningState.SENT),
    ("vi", [False, False], SigningState.VIEWED), ("vi", [True, False], SigningState.PARTIALLY_SIGNED),
    ("si", [True, True], SigningState.COMPLETED), ("sd", [True, True], SigningState.COMPLETED),
    ("ca", [False, False], SigningState.CANCELLED), ("xp", [True, False], SigningState.EXPIRED),
    ("es", [False, False], SigningState.FAILED), ("ec", [False, False], SigningState.FAILED),
])
@responses.activate
def test_status_codes_map_to_neutral_states(code, signed, state):
    signers = [{"email": "dana@example.com", "signed": signed[0]}, {"email": "eli@example.com", "signed": signed[1]}]
    responses.get(f"{BASE}/documents/{DOC}/", json=_document(code, signers), match=[matchers.header_matcher(headers())])
    status = provider().get_status(REF)
    assert status.state == state and status.provider_status == code
    assert [s.email for s in status.signers] == ["dana@example.com", "eli@example.com"]


@responses.activate
def test_declined_status_carries_who_and_why():
    responses.get(f"{BASE}/documents/{DOC}/", json=_document("de", [
        {"email": "dana@example.com", "declined": True, "message": "Wrong price"}]))
    status = provider().get_status(REF)
    assert (status.state, status.declined_by, status.decline_reason) == (
        SigningState.DECLINED, "dana@example.com", "Wrong price")


@responses.activate
def test_signed_but_still_processing_is_not_complete_yet():
    responses.get(f"{BASE}/documents/{DOC}/", json={**_document("si", [{"email": "d@x.io", "signed": True}]),
                                                    "processing": True})
    assert provider().get_status(REF).state == SigningState.PARTIALLY_SIGNED


SIGNED_URL = "https://signrequest-pro.s3.amazonaws.com/docs/signed.pdf?Expires=1"
LOG_URL = "https://signrequest-pro.s3.amazonaws.com/docs/log.pdf?Expires=1"


def _signed_document(pdf_hash: str, log_hash: str, url: str = SIGNED_URL) -> dict:
    return _document("si", [], pdf=url, security_hash=pdf_hash, signing_log={"pdf": LOG_URL, "security_hash": log_hash})


@responses.activate
def test_downloads_check_the_security_hash_and_send_no_token():
    signed, log = b"%PDF signed", b"%PDF log"
    responses.get(f"{BASE}/documents/{DOC}/", json=_signed_document(
        hashlib.sha256(signed).hexdigest(), hashlib.sha256(log).hexdigest()))
    responses.get(SIGNED_URL, body=signed)
    responses.get(LOG_URL, body=log)
    adapter = provider()
    [file] = adapter.download_signed(REF)
    evidence = adapter.download_evidence(REF)
    assert (file.filename, file.content) == ("Quote Q-1 - signed.pdf", signed)
    assert (evidence.filename, evidence.content) == ("Quote Q-1 - signing log.pdf", log)
    downloads = [c for c in responses.calls if "s3.amazonaws.com" in c.request.url]
    assert all("Authorization" not in c.request.headers for c in downloads)


@responses.activate
def test_download_with_a_wrong_hash_is_refused():
    responses.get(f"{BASE}/documents/{DOC}/", json=_signed_document("0" * 64, "0" * 64))
    responses.get(SIGNED_URL, body=b"%PDF tampered")
    with pytest.raises(ProviderTransientError, match="security hash"):
        provider().download_signed(REF)


@pytest.mark.parametrize(("url", "message"), [
    ("https://evil.example/signed.pdf", "not one of the provider's configured download hosts"),
    ("http://signrequest-pro.s3.amazonaws.com/x.pdf", "non-HTTPS"),
    ("file:///etc/passwd", "non-HTTPS"),
])
@responses.activate
def test_downloads_only_from_the_providers_hosts_over_https(url, message):
    responses.get(f"{BASE}/documents/{DOC}/", json=_signed_document("0" * 64, "0" * 64, url=url))
    with pytest.raises(ProviderValidationError, match=message):
        provider().download_signed(REF)
    assert len(responses.calls) == 1


@responses.activate
def test_oversized_download_is_refused():
    responses.get(f"{BASE}/documents/{DOC}/", json=_signed_document("0" * 64, "0" * 64))
    responses.get(SIGNED_URL, body=b"x" * 2048)
    with pytest.raises(ProviderValidationError, match="larger than 1,024 bytes"):
        provider(max_download_bytes=1024).download_signed(REF)


@responses.activate
def test_cancel_and_reminder_use_the_signrequest_uuid():
    responses.post(f"{BASE}/signrequests/{SR}/cancel_signrequest/", status=201, json={"detail": "OK", "cancelled": True},
                   match=[matchers.header_matcher(headers())])
    responses.post(f"{BASE}/signrequests/{SR}/resend_signrequest_email/", status=201, json={"detail": "OK"})
    provider().cancel(REF)
    provider().send_reminder(REF)
    assert [c.request.url for c in responses.calls] == [f"{BASE}/signrequests/{SR}/cancel_signrequest/",
                                                        f"{BASE}/signrequests/{SR}/resend_signrequest_email/"]


@pytest.mark.parametrize(("status", "body", "error", "text"), [
    (401, {"detail": "Invalid token."}, ProviderAuthError, "credentials were refused"),
    (402, {"detail": "Payment required"}, ProviderQuotaError, "no signing credits left"),
    (400, {"signers": [{"email": ["Enter a valid email address."]}]}, ProviderValidationError,
     "signers[0].email: Enter a valid email address."),
    (404, {"detail": "Not found."}, ProviderNotFound, "404"),
])
@responses.activate
def test_errors_map_to_the_taxonomy_without_the_token(status, body, error, text, caplog):
    responses.get(f"{BASE}/documents/{DOC}/", status=status, json=body)
    with caplog.at_level(logging.DEBUG), pytest.raises(error) as raised:
        provider().get_status(REF)
    assert text in str(raised.value)
    assert TOKEN not in str(raised.value) and TOKEN not in caplog.text


@responses.activate
def test_rate_limit_honours_retry_after_then_succeeds():
    responses.get(f"{BASE}/documents/{DOC}/", status=429, headers={"Retry-After": "0"}, json={"detail": "slow down"})
    responses.get(f"{BASE}/documents/{DOC}/", json=_document("se", []))
    assert provider().get_status(REF).state == SigningState.SENT
    assert len(responses.calls) == 2


@responses.activate
def test_gets_are_retried_on_server_errors_but_give_up():
    responses.get(f"{BASE}/documents/{DOC}/", status=503)
    with pytest.raises(ProviderTransientError):
        provider().get_status(REF)
    assert len(responses.calls) == 4


@responses.activate
def test_rate_limited_error_keeps_retry_after():
    responses.get(f"{BASE}/documents/{DOC}/", status=429, headers={"Retry-After": "0"})
    with pytest.raises(ProviderRateLimited) as raised:
        provider().get_status(REF)
    assert raised.value.retry_after == 0


# --- callbacks --------------------------------------------------------------------------------

VECTOR_KEY = "YOUR_TOKEN_HERE"
VECTOR_HASH = "675ceef2ce146de8ba8d24ac878cdd1a0f5868b37dfe9e30699387eb18e17977"


def _callback(**overrides) -> bytes:
    body = {"uuid": "ev-1", "status": "ok", "event_type": "converted", "event_time": "1537889008",
            "event_hash": VECTOR_HASH, "token_name": "Token", "team": {"name": "t", "subdomain": "t"},
            "document": {"uuid": DOC, "external_id": "job-1"}, "signer": None}
    body.update(overrides)
    return json.dumps(body).encode()


def _vector_provider(now: float = 1537889008) -> SignRequestProvider:
    return SignRequestProvider(api_token=VECTOR_KEY, base_url=BASE, clock=lambda: now)


JSON = {"content-type": "application/json"}


def test_documented_test_vector_is_accepted():
    event = _vector_provider().parse_webhook(JSON, _callback())
    assert (event.event_id, event.request_id, event.external_id, event.kind) == ("ev-1", DOC, "job-1", "converted")


def test_signed_event_hints_completion():
    digest = hmac.new(VECTOR_KEY.encode(), b"1537889008signed", hashlib.sha256).hexdigest()
    event = _vector_provider().parse_webhook(JSON, _callback(event_type="signed", event_hash=digest))
    assert event.state_hint == SigningState.COMPLETED


def test_unknown_event_types_are_accepted_without_a_hint():
    digest = hmac.new(VECTOR_KEY.encode(), b"1537889008brand_new", hashlib.sha256).hexdigest()
    assert _vector_provider().parse_webhook(JSON, _callback(event_type="brand_new", event_hash=digest)).state_hint \
        is None


@pytest.mark.parametrize(("headers", "body", "status", "reason"), [
    (JSON, _callback(event_hash="0" * 64), 401, "event_hash does not match"),
    (JSON, _callback(event_type="signed"), 401, "event_hash does not match"),
    (JSON, b"not json", 400, "not JSON"),
    (JSON, b"[1, 2]", 400, "not a JSON object"),
    (JSON, _callback(event_hash=None), 400, "lacks event_time"),
    (JSON, _callback(document=None), 400, "lacks document.uuid"),
    ({"content-type": "text/plain"}, _callback(), 415, "application/json"),
])
def test_bad_callbacks_are_refused(headers, body, status, reason):
    with pytest.raises(WebhookRejected) as refused:
        _vector_provider().parse_webhook(headers, body)
    assert refused.value.status_code == status and reason in refused.value.reason


def test_stale_callbacks_are_refused_as_replays():
    with pytest.raises(WebhookRejected, match="stale event"):
        _vector_provider(now=1537889008 + 3600).parse_webhook(JSON, _callback())
