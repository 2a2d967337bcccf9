"""The exact HTTP requests the SignRequest adapter sends, and how it reads the answers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime

import pytest
import requests
import responses
from responses import matchers

from adapters.signrequest.adapter import SignRequestProvider
from connector.ports.blobs import BlobWriter
from connector.ports.provider import (
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
    SignerStatus,
    SigningRequestSpec,
    SigningState,
    WebhookRejected,
)
from connector.ports.retry import RetryPolicy

BASE = "https://acme.signrequest.com/api/v1"
TOKEN = "sr-secret-token-123"
DOC = "9a8b7c6d-0000-4000-8000-000000000002"
SR = "3f0c7a1e-0000-4000-8000-000000000001"
REF = RequestRef("signrequest", DOC, {"signrequest_uuid": SR})
PDF = b"%PDF-1.4 quote"
CALLBACK = "https://connector.example/webhooks/signrequest"
DANA = SignerSpec("dana@example.com", "Dana", "Lee", 1)
ELI = SignerSpec("eli@example.com", "Eli", "Buyer", 2)


@pytest.fixture(autouse=True)
def _no_token_in_any_log_record(caplog):
    caplog.set_level(logging.DEBUG)
    yield
    assert all(TOKEN not in record.getMessage() for record in caplog.records)


def provider(**kwargs) -> SignRequestProvider:
    options = {"from_email": "sales@acme.example", "retry_wait_initial": 0, **kwargs}
    return SignRequestProvider(api_token=TOKEN, base_url=BASE, **options)


def spec(*signers: SignerSpec, documents=None, **kwargs) -> SigningRequestSpec:
    options = {"subject": "Please sign", "message": "Hello", "callback_url": CALLBACK, "expires_in_days": 30,
               **kwargs}
    return SigningRequestSpec(external_id="job-1", signers=signers or (DANA,),
                              documents=documents or (DocumentSpec("Quote Q-1", "Quote Q-1.pdf", PDF),), **options)


AUTH = {"Authorization": f"Token {TOKEN}"}
JSON_AUTH = {**AUTH, "Content-Type": "application/json"}
CREATED = {"uuid": SR, "url": f"{BASE}/signrequests/{SR}/", "document": f"{BASE}/documents/{DOC}/"}


def signer_json(signer: SignerSpec, **extra) -> dict:
    return {"email": signer.email, "first_name": signer.first_name, "last_name": signer.last_name,
            "order": signer.order, "needs_to_sign": True, "language": "en", **extra}


def streamed_json(expected: dict):
    """A responses matcher for a JSON body sent as a stream (the document's base64 is produced in pieces)."""
    def match(request) -> tuple[bool, str]:
        sent = json.loads(b"".join(request.body))
        return sent == expected, f"sent {sent!r}, expected {expected!r}"
    return match


def expect_quick_create(body: dict) -> None:
    responses.post(f"{BASE}/signrequest-quick-create/", status=201, json=CREATED,
                   match=[matchers.header_matcher(JSON_AUTH), streamed_json(body)])


def quick_create_body(signers: list[dict], **overrides) -> dict:
    return {"file_from_content": base64.b64encode(PDF).decode("ascii"), "file_from_content_name": "Quote Q-1.pdf",
            "name": "Quote Q-1.pdf", "external_id": "job-1", "events_callback_url": CALLBACK, "who": "o",
            "from_email": "sales@acme.example", "subject": "Please sign", "message": "Hello",
            "send_reminders": True, "auto_expire_days": 30, "signers": signers, **overrides}


# --- creating --------------------------------------------------------------------------------


# The body as `requests` sent it with json=payload before the document was streamed: json.dumps of the
# payload in this key order, UTF-8. The streamed body must be exactly these bytes.
def json_as_sent(content: bytes, signers: list[dict]) -> bytes:
    payload = {"file_from_content": base64.b64encode(content).decode("ascii"), "file_from_content_name": "Quote Q-1.pdf",
               "name": "Quote Q-1.pdf", "external_id": "job-1", "events_callback_url": CALLBACK, "who": "o",
               "subject": "Please sign", "message": "Hello", "send_reminders": True, "signers": signers,
               "from_email": "sales@acme.example", "auto_expire_days": 30}
    return json.dumps(payload).encode()


@responses.activate
def test_create_sends_one_quick_create_with_the_exact_body():
    expect_quick_create(quick_create_body([signer_json(DANA)]))
    assert provider().create(spec(DANA)) == REF
    [call] = responses.calls
    assert (call.request.method, call.request.url) == ("POST", f"{BASE}/signrequest-quick-create/")
    assert b"".join(call.request.body) == json_as_sent(PDF, [signer_json(DANA)])
    assert call.request.headers["Content-Length"] == str(len(json_as_sent(PDF, [signer_json(DANA)])))


@pytest.mark.parametrize("size", [1, 2, 3, 3 * 256 * 1024 + 1, 2 * 1024 * 1024 + 2])
@responses.activate
def test_a_document_on_disk_is_streamed_as_the_same_json_bytes(size):
    content = (b"%PDF-1.4 " + bytes(range(256)) * (size // 256 + 1))[:size]
    on_disk = BlobWriter(spool_bytes=0).write_all([content])
    expect_quick_create(quick_create_body([signer_json(DANA)], file_from_content=base64.b64encode(content).decode()))
    provider().create(spec(DANA, documents=(DocumentSpec("Quote Q-1", "Quote Q-1.pdf", on_disk),)))
    [call] = responses.calls
    assert b"".join(call.request.body) == json_as_sent(content, [signer_json(DANA)])
    assert call.request.headers["Content-Length"] == str(len(json_as_sent(content, [signer_json(DANA)])))
    assert "Transfer-Encoding" not in call.request.headers


@responses.activate
def test_a_message_that_looks_like_the_placeholder_stays_text():
    expect_quick_create(quick_create_body([signer_json(DANA)], message='"blob-x" and "file_from_content"'))
    provider().create(spec(DANA, message='"blob-x" and "file_from_content"'))
    assert base64.b64decode(json.loads(b"".join(responses.calls[0].request.body))["file_from_content"]) == PDF


@responses.activate
def test_two_signers_keep_their_order_and_optional_fields_are_left_out():
    body = quick_create_body([signer_json(DANA), signer_json(ELI)], send_reminders=False)
    del body["from_email"], body["auto_expire_days"]
    expect_quick_create(body)
    assert provider(from_email=None).create(spec(DANA, ELI, send_reminders=False, expires_in_days=None)) == REF


@responses.activate
def test_the_rule_language_goes_on_every_signer():
    expect_quick_create(quick_create_body([signer_json(DANA, language="nl"), signer_json(ELI, language="nl")]))
    assert provider().create(spec(DANA, ELI, language="nl")) == REF


@responses.activate
def test_an_sms_signer_gets_verify_phone_number():
    sms = SignerSpec("eli@example.com", "Eli", "Buyer", 2, "+15550100", SignerAuth.SMS)
    expect_quick_create(quick_create_body([signer_json(DANA), signer_json(sms, verify_phone_number="+15550100")]))
    assert provider().create(spec(DANA, sms)) == REF


def test_an_sms_signer_without_a_phone_is_refused_before_any_call():
    with responses.RequestsMock(), pytest.raises(ProviderValidationError, match="no mobile phone"):
        provider().create(spec(SignerSpec("eli@example.com", "Eli", "Buyer", 1, None, SignerAuth.SMS)))


def test_more_than_one_document_is_refused_before_any_call():
    docs = (DocumentSpec("A", "a.pdf", PDF), DocumentSpec("B", "b.pdf", PDF))
    with responses.RequestsMock(), pytest.raises(ProviderValidationError, match="exactly one document"):
        provider().create(spec(documents=docs))


@pytest.mark.parametrize("status", [500, 502, 503])
@responses.activate
def test_create_is_not_retried_on_a_server_error(status):
    responses.post(f"{BASE}/signrequest-quick-create/", status=status, body="bad gateway")
    with pytest.raises(ProviderTransientError):
        provider().create(spec())
    assert len(responses.calls) == 1


@responses.activate
def test_create_is_not_retried_when_the_connection_drops():
    responses.post(f"{BASE}/signrequest-quick-create/", body=requests.ConnectionError("reset by peer"))
    with pytest.raises(ProviderTransientError, match="ConnectionError"):
        provider().create(spec())
    assert len(responses.calls) == 1


@responses.activate
def test_a_created_answer_without_the_document_url_is_transient():
    responses.post(f"{BASE}/signrequest-quick-create/", status=201, json={"uuid": SR})
    with pytest.raises(ProviderTransientError, match="without document"):
        provider().create(spec())


# --- finding again ---------------------------------------------------------------------------


def listing(*documents: dict) -> dict:
    return {"count": len(documents), "next": None, "previous": None, "results": list(documents)}


@responses.activate
def test_find_by_external_id_returns_the_newest_match():
    older = {"uuid": "old-doc", "external_id": "job-1", "created": "2024-01-01T10:00:00Z", "signrequest": None}
    newer = {"uuid": DOC, "external_id": "job-1", "created": "2024-01-02T10:00:00Z", "signrequest": {"uuid": SR}}
    responses.get(f"{BASE}/documents/", json=listing(older, newer),
                  match=[matchers.query_string_matcher("external_id=job-1"), matchers.header_matcher(AUTH)])
    assert provider().find_by_external_id("job-1") == REF
    assert responses.calls[0].request.url == f"{BASE}/documents/?external_id=job-1"


@responses.activate
def test_find_by_external_id_misses():
    responses.get(f"{BASE}/documents/", json=listing(), match=[matchers.query_string_matcher("external_id=job-2")])
    assert provider().find_by_external_id("job-2") is None


@responses.activate
def test_find_ignores_documents_of_other_jobs_if_the_filter_was_ignored():
    responses.get(f"{BASE}/documents/", json=listing({"uuid": "x", "external_id": "someone-else"}))
    assert provider().find_by_external_id("job-1") is None


@responses.activate
def test_a_match_without_a_signrequest_yet_has_no_signrequest_uuid():
    responses.get(f"{BASE}/documents/", json=listing({"uuid": DOC, "external_id": "job-1", "signrequest": None}))
    assert provider().find_by_external_id("job-1") == RequestRef("signrequest", DOC, {})


# --- status ----------------------------------------------------------------------------------

SENDER = {"email": "sales@acme.example", "needs_to_sign": False, "order": 0, "signed": False}


def document(status: str, signers: list[dict], **extra) -> dict:
    return {"uuid": DOC, "url": f"{BASE}/documents/{DOC}/", "external_id": "job-1", "status": status,
            "name": "Quote Q-1.pdf", "processing": False, "pdf": None, "signing_log": None,
            "security_hash": None, "signrequest": {"uuid": SR, "signers": [SENDER, *signers]}, **extra}


def two_signers(dana_signed: bool, eli_signed: bool, **dana) -> list[dict]:
    return [{"email": "dana@example.com", "signed": dana_signed, "viewed": dana_signed, **dana},
            {"email": "eli@example.com", "signed": eli_signed}]


@pytest.mark.parametrize(("code", "signed", "state"), [
    ("co", (False, False), SigningState.SENT), ("ne", (False, False), SigningState.SENT),
    ("se", (False, False), SigningState.SENT), ("se", (True, False), SigningState.PARTIALLY_SIGNED),
    ("vi", (False, False), SigningState.VIEWED), ("vi", (True, False), SigningState.PARTIALLY_SIGNED),
    ("si", (True, True), SigningState.COMPLETED), ("do", (True, True), SigningState.COMPLETED),
    ("sd", (True, True), SigningState.COMPLETED), ("de", (False, False), SigningState.DECLINED),
    ("ca", (True, False), SigningState.CANCELLED), ("xp", (True, False), SigningState.EXPIRED),
    ("ec", (False, False), SigningState.FAILED), ("es", (False, False), SigningState.FAILED),
    ("zz", (False, False), SigningState.SENT),
])
@responses.activate
def test_status_codes_map_to_neutral_states(code, signed, state):
    responses.get(f"{BASE}/documents/{DOC}/", json=document(code, two_signers(*signed)),
                  match=[matchers.header_matcher(AUTH)])
    status = provider().get_status(REF)
    assert (status.state, status.provider_status, status.external_id) == (state, code, "job-1")
    assert status.signers == (SignerStatus("dana@example.com", signed=signed[0], viewed=signed[0]),
                              SignerStatus("eli@example.com", signed=signed[1]))
    assert responses.calls[0].request.url == f"{BASE}/documents/{DOC}/"


@pytest.mark.parametrize(("message", "reason"), [("Wrong price", "Wrong price"), ("", None), (None, None)])
@responses.activate
def test_declined_status_carries_who_and_why(message, reason):
    responses.get(f"{BASE}/documents/{DOC}/", json=document("de", two_signers(
        False, False, declined=True, message=message)))
    status = provider().get_status(REF)
    assert (status.state, status.declined_by, status.decline_reason) == (
        SigningState.DECLINED, "dana@example.com", reason)
    assert status.signers[0].declined and status.signers[0].decline_reason == reason


@pytest.mark.parametrize(("signed", "state"), [((True, True), SigningState.PARTIALLY_SIGNED),
                                               ((False, False), SigningState.SENT)])
@responses.activate
def test_signed_but_still_processing_is_not_complete_yet(signed, state):
    responses.get(f"{BASE}/documents/{DOC}/", json=document("si", two_signers(*signed), processing=True))
    assert provider().get_status(REF).state == state


# --- downloads -------------------------------------------------------------------------------

SIGNED_URL = "https://signrequest-pro.s3.amazonaws.com/docs/signed.pdf?Expires=1&Signature=abc"
LOG_URL = "https://signrequest-pro.s3.amazonaws.com/docs/log.pdf?Expires=1&Signature=def"
SIGNED, LOG = b"%PDF signed", b"%PDF log"


def signed_document(pdf_hash: str = hashlib.sha256(SIGNED).hexdigest(), url: str = SIGNED_URL,
                    log_hash: str = hashlib.sha256(LOG).hexdigest(), **extra) -> dict:
    return document("si", two_signers(True, True), pdf=url, security_hash=pdf_hash,
                    signing_log={"pdf": LOG_URL, "security_hash": log_hash}, **extra)


@responses.activate
def test_downloads_check_the_security_hash_and_send_no_token():
    responses.get(f"{BASE}/documents/{DOC}/", json=signed_document(), match=[matchers.header_matcher(AUTH)])
    responses.get(SIGNED_URL, body=SIGNED)
    responses.get(LOG_URL, body=LOG)
    adapter = provider()
    [signed] = adapter.download_signed(REF)
    evidence = adapter.download_evidence(REF)
    assert (signed.filename, signed.content) == ("Quote Q-1 - signed.pdf", SIGNED)
    assert (evidence.filename, evidence.content) == ("Quote Q-1 - signing log.pdf", LOG)
    downloads = [c for c in responses.calls if "s3.amazonaws.com" in c.request.url]
    assert [c.request.url for c in downloads] == [SIGNED_URL, LOG_URL]
    assert all("Authorization" not in c.request.headers for c in downloads)


@responses.activate
def test_completing_after_a_status_check_reads_the_document_once():
    """The status check's read of a signed document serves both downloads (its links live five minutes)."""
    responses.get(f"{BASE}/documents/{DOC}/", json=signed_document())
    responses.get(SIGNED_URL, body=SIGNED)
    responses.get(LOG_URL, body=LOG)
    adapter = provider()
    assert adapter.get_status(REF).state == SigningState.COMPLETED
    adapter.download_signed(REF)
    adapter.download_evidence(REF)
    assert [c.request.url for c in responses.calls] == [f"{BASE}/documents/{DOC}/", SIGNED_URL, LOG_URL]


@responses.activate
def test_download_with_a_wrong_hash_is_refused_as_transient():
    responses.get(f"{BASE}/documents/{DOC}/", json=signed_document("0" * 64, log_hash="0" * 64))
    responses.get(SIGNED_URL, body=b"%PDF tampered")
    responses.get(LOG_URL, body=LOG)
    with pytest.raises(ProviderTransientError, match="security hash"):
        provider().download_signed(REF)
    with pytest.raises(ProviderTransientError, match="security hash"):
        provider().download_evidence(REF)


@pytest.mark.parametrize(("url", "message"), [
    ("https://evil.example/signed.pdf", "not one of the provider's configured download hosts"),
    ("https://169.254.169.254/latest/meta-data", "not one of the provider's configured download hosts"),
    ("https://signrequest.com.evil.example/x.pdf", "not one of the provider's configured download hosts"),
    ("http://signrequest-pro.s3.amazonaws.com/x.pdf", "non-HTTPS"),
    ("file:///etc/passwd", "non-HTTPS"),
])
@responses.activate
def test_downloads_only_from_the_providers_hosts_over_https(url, message):
    responses.get(f"{BASE}/documents/{DOC}/", json=signed_document(url=url))
    with pytest.raises(ProviderValidationError, match=message):
        provider().download_signed(REF)
    assert len(responses.calls) == 1


@responses.activate
def test_team_subdomain_hosts_are_allowed_by_default():
    url = "https://acme.signrequest.com/files/signed.pdf"
    responses.get(f"{BASE}/documents/{DOC}/", json=signed_document(url=url))
    responses.get(url, body=SIGNED)
    assert provider().download_signed(REF)[0].content == SIGNED


@pytest.mark.parametrize("declared_length", [False, True])
@responses.activate
def test_oversized_download_is_refused(declared_length):
    responses.get(f"{BASE}/documents/{DOC}/", json=signed_document())
    responses.get(SIGNED_URL, body=b"x" * 2048, auto_calculate_content_length=declared_length)
    with pytest.raises(ProviderValidationError, match="larger than 1,024 bytes"):
        provider(max_download_bytes=1024).download_signed(REF)


@responses.activate
def test_the_engines_limit_replaces_the_adapters_own_cap():
    # A signed copy is larger than the original: a cap below it must not refuse what the engine allows.
    responses.get(f"{BASE}/documents/{DOC}/", json=signed_document(pdf_hash=hashlib.sha256(b"x" * 2048).hexdigest()))
    responses.get(SIGNED_URL, body=b"x" * 2048)
    [signed] = provider(max_download_bytes=1024).download_signed(REF, max_bytes=4096)
    assert signed.blob.size == 2048
    with pytest.raises(ProviderValidationError, match="larger than 2,000 bytes"):
        provider(max_download_bytes=1024 * 1024).download_signed(REF, max_bytes=2000)


@responses.activate
def test_a_download_past_the_spool_size_lands_in_a_temporary_file():
    responses.get(f"{BASE}/documents/{DOC}/", json=signed_document())
    responses.get(SIGNED_URL, body=SIGNED)
    [signed] = provider(spool_bytes=4).download_signed(REF)
    assert signed.blob.path is not None and signed.content == SIGNED


@responses.activate
def test_an_expired_file_link_is_transient_not_an_auth_failure():
    responses.get(f"{BASE}/documents/{DOC}/", json=signed_document())
    responses.get(SIGNED_URL, status=403, body="<Error><Code>AccessDenied</Code></Error>")
    with pytest.raises(ProviderTransientError, match="403"):
        provider().download_signed(REF)


@pytest.mark.parametrize(("doc", "error", "message"), [
    (document("vi", two_signers(True, False)), ProviderValidationError, "not signed yet"),
    (signed_document(processing=True), ProviderTransientError, "still processing"),
    (signed_document(url=None), ProviderTransientError, "no signed PDF link"),
])
@responses.activate
def test_nothing_is_downloaded_before_the_document_is_signed_and_settled(doc, error, message):
    responses.get(f"{BASE}/documents/{DOC}/", json=doc)
    with pytest.raises(error, match=message):
        provider().download_signed(REF)
    assert len(responses.calls) == 1


# --- cancel and remind -----------------------------------------------------------------------


@responses.activate
def test_cancel_and_reminder_use_the_signrequest_uuid():
    responses.post(f"{BASE}/signrequests/{SR}/cancel_signrequest/", status=201,
                   json={"detail": "OK", "cancelled": True}, match=[matchers.header_matcher(JSON_AUTH)])
    responses.post(f"{BASE}/signrequests/{SR}/resend_signrequest_email/", status=201, json={"detail": "OK"},
                   match=[matchers.header_matcher(JSON_AUTH)])
    provider().cancel(REF)
    provider().send_reminder(REF)
    assert [(c.request.method, c.request.url) for c in responses.calls] == [
        ("POST", f"{BASE}/signrequests/{SR}/cancel_signrequest/"),
        ("POST", f"{BASE}/signrequests/{SR}/resend_signrequest_email/")]


@responses.activate
def test_a_ref_without_the_signrequest_uuid_reads_it_from_the_document():
    responses.get(f"{BASE}/documents/{DOC}/", json=document("se", []))
    responses.post(f"{BASE}/signrequests/{SR}/cancel_signrequest/", status=201, json={"detail": "OK"})
    provider().cancel(RequestRef("signrequest", DOC))
    assert responses.calls[-1].request.url == f"{BASE}/signrequests/{SR}/cancel_signrequest/"


@responses.activate
def test_a_reminder_is_not_retried():
    responses.post(f"{BASE}/signrequests/{SR}/resend_signrequest_email/", status=503)
    with pytest.raises(ProviderTransientError):
        provider().send_reminder(REF)
    assert len(responses.calls) == 1


# --- error taxonomy --------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "body", "error", "text"), [
    (401, {"detail": "Invalid token."}, ProviderAuthError, "credentials were refused"),
    (403, {"detail": "You do not have permission to perform this action."}, ProviderAuthError, "permission"),
    (403, {"detail": "Your plan has no credits left."}, ProviderQuotaError, "no signing credits left"),
    (402, {"detail": "Payment required"}, ProviderQuotaError, "no signing credits left"),
    (400, {"signers": [{"email": ["Enter a valid email address."]}]}, ProviderValidationError,
     "signers[0].email: Enter a valid email address."),
    (400, {"errors": {"auto_expire_days": ["Ensure this value is less than or equal to 730."]}},
     ProviderValidationError, "auto_expire_days: Ensure this value is less than or equal to 730."),
    (400, {"non_field_errors": ["Signing request already cancelled."]}, ProviderValidationError,
     "answered 400: Signing request already cancelled."),
    (422, {"name": ["Too long."]}, ProviderValidationError, "name: Too long."),
    (404, {"detail": "Not found."}, ProviderNotFound, "answered 404: Not found."),
    (400, {"detail": f"bad token {TOKEN}"}, ProviderValidationError, "bad token ***"),
])
@responses.activate
def test_errors_map_to_the_taxonomy_without_the_token(status, body, error, text):
    responses.get(f"{BASE}/documents/{DOC}/", status=status, json=body)
    with pytest.raises(error) as raised:
        provider().get_status(REF)
    assert text in str(raised.value)
    assert TOKEN not in str(raised.value) and TOKEN not in repr(raised.value.args)
    assert len(responses.calls) == 1


@responses.activate
def test_a_rate_limited_get_honours_retry_after_then_succeeds():
    responses.get(f"{BASE}/documents/{DOC}/", status=429, headers={"Retry-After": "0"}, json={"detail": "slow"})
    responses.get(f"{BASE}/documents/{DOC}/", json=document("se", []))
    assert provider().get_status(REF).state == SigningState.SENT
    assert len(responses.calls) == 2


@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
@responses.activate
def test_rate_limited_error_carries_retry_after(header, expected):
    responses.get(f"{BASE}/documents/{DOC}/", status=429, headers={"Retry-After": header})
    with pytest.raises(ProviderRateLimited) as raised:
        provider(retry=RetryPolicy(attempts=1)).get_status(REF)
    assert raised.value.retry_after == expected and raised.value.retriable


@responses.activate
def test_a_long_retry_after_goes_back_to_the_engine_at_once():
    responses.get(f"{BASE}/documents/{DOC}/", status=429, headers={"Retry-After": "3600"})
    with pytest.raises(ProviderRateLimited) as raised:
        provider().get_status(REF)
    assert raised.value.retry_after == 3600 and len(responses.calls) == 1


@responses.activate
def test_gets_are_retried_on_server_errors_then_succeed():
    responses.get(f"{BASE}/documents/{DOC}/", status=500)
    responses.get(f"{BASE}/documents/{DOC}/", body=requests.ConnectTimeout("slow"))
    responses.get(f"{BASE}/documents/{DOC}/", json=document("vi", []))
    assert provider().get_status(REF).state == SigningState.VIEWED
    assert len(responses.calls) == 3


@responses.activate
def test_gets_give_up_after_the_bounded_attempts():
    responses.get(f"{BASE}/documents/{DOC}/", status=503)
    with pytest.raises(ProviderTransientError, match="answered 503"):
        provider().get_status(REF)
    assert len(responses.calls) == 4


@responses.activate
def test_a_2xx_that_is_not_json_is_transient():
    responses.get(f"{BASE}/documents/{DOC}/", body="<html>maintenance</html>")
    with pytest.raises(ProviderTransientError, match="not JSON"):
        provider().get_status(REF)


def test_the_token_is_not_in_the_repr():
    assert TOKEN not in repr(provider()) and TOKEN not in repr(provider().http)


# --- callbacks -------------------------------------------------------------------------------

VECTOR_KEY = "YOUR_TOKEN_HERE"
VECTOR_TIME = 1537889008
VECTOR_HASH = "675ceef2ce146de8ba8d24ac878cdd1a0f5868b37dfe9e30699387eb18e17977"
JSON_HEADERS = {"content-type": "application/json"}


def callback(**overrides) -> bytes:
    body = {"uuid": "ev-1", "status": "ok", "event_type": "converted", "event_time": str(VECTOR_TIME),
            "timestamp": "2018-09-25T15:23:28.836457Z", "event_hash": VECTOR_HASH, "token_name": "Token",
            "team": {"name": "Acme", "subdomain": "acme"}, "document": document("co", []), "signer": None}
    body.update(overrides)
    return json.dumps(body).encode()


def signed_callback(event_type: str, **overrides) -> bytes:
    digest = hmac.new(VECTOR_KEY.encode(), f"{VECTOR_TIME}{event_type}".encode(), hashlib.sha256).hexdigest()
    return callback(event_type=event_type, event_hash=digest, **overrides)


def vector_provider(now: float = VECTOR_TIME) -> SignRequestProvider:
    return SignRequestProvider(api_token=VECTOR_KEY, base_url=BASE, clock=lambda: now)


def test_the_documented_test_vector_is_accepted():
    event = vector_provider().parse_webhook(JSON_HEADERS, callback())
    assert (event.provider, event.event_id, event.request_id, event.external_id, event.kind) == (
        "signrequest", "ev-1", DOC, "job-1", "converted")
    assert event.occurred_at == datetime(2018, 9, 25, 15, 23, 28, tzinfo=UTC)
    assert event.state_hint == SigningState.SENT  # converted: not an ending, wakes no job


@pytest.mark.parametrize(("event_type", "hint"), [
    ("signed", SigningState.COMPLETED), ("signer_signed", SigningState.PARTIALLY_SIGNED),
    ("declined", SigningState.DECLINED), ("cancelled", SigningState.CANCELLED),
    ("expired", SigningState.EXPIRED), ("sending_error", SigningState.FAILED), ("brand_new_event", None),
])
def test_event_types_give_a_state_hint_and_unknown_ones_are_accepted(event_type, hint):
    event = vector_provider().parse_webhook(JSON_HEADERS, signed_callback(event_type))
    assert (event.kind, event.state_hint) == (event_type, hint)


@pytest.mark.parametrize("headers", [{"content-type": "application/json; charset=utf-8"},
                                     {"content-type": "Application/JSON"}])
def test_content_type_parameters_and_case_are_tolerated(headers):
    assert vector_provider().parse_webhook(headers, callback()).event_id == "ev-1"


def test_a_numeric_event_time_is_tolerated():
    assert vector_provider().parse_webhook(JSON_HEADERS, callback(event_time=VECTOR_TIME)).event_id == "ev-1"


@pytest.mark.parametrize(("headers", "body", "status", "reason"), [
    (JSON_HEADERS, callback(event_hash="0" * 64), 401, "event_hash does not match"),
    (JSON_HEADERS, callback(event_type="signed"), 401, "event_hash does not match"),
    (JSON_HEADERS, callback(event_time=str(VECTOR_TIME + 1)), 401, "event_hash does not match"),
    (JSON_HEADERS, callback(event_hash="\u0080"), 401, "event_hash does not match"),
    # A lone surrogate is JSON syntax but not text: refused before anything reads it.
    (JSON_HEADERS, callback(event_hash="\ud800"), 400, "not valid Unicode"),
    (JSON_HEADERS, callback(event_type="\ud800"), 400, "not valid Unicode"),
    (JSON_HEADERS, b"[" * 5000, 400, "nested too deeply"),
    (JSON_HEADERS, b"not json", 400, "not JSON"),
    (JSON_HEADERS, b"\xff\xfe", 400, "not JSON"),
    (JSON_HEADERS, b"[1, 2]", 400, "not a JSON object"),
    (JSON_HEADERS, callback(event_hash=None), 400, "lacks event_time"),
    (JSON_HEADERS, callback(event_time=None), 400, "lacks event_time"),
    (JSON_HEADERS, callback(event_type=""), 400, "lacks event_time"),
    (JSON_HEADERS, callback(document=None), 400, "lacks document.uuid"),
    (JSON_HEADERS, callback(document={"external_id": "job-1"}), 400, "lacks document.uuid"),
    (JSON_HEADERS, callback(uuid=None), 400, "lacks the event uuid"),
    ({"content-type": "text/plain"}, callback(), 415, "application/json"),
    ({}, callback(), 415, "application/json"),
])
def test_bad_callbacks_are_refused(headers, body, status, reason):
    with pytest.raises(WebhookRejected) as refused:
        vector_provider().parse_webhook(headers, body)
    assert refused.value.status_code == status and reason in refused.value.reason


@pytest.mark.parametrize("now", [VECTOR_TIME + 901, VECTOR_TIME - 901, VECTOR_TIME + 30 * 86400])
def test_callbacks_outside_the_replay_window_are_kept_as_stale_hints(now):
    # SignRequest retries a failed callback with its first event_time: after an outage it arrives late.
    event = vector_provider(now=now).parse_webhook(JSON_HEADERS, callback())
    assert (event.event_id, event.stale, event.state_hint) == ("ev-1", True, SigningState.SENT)


def test_callbacks_inside_the_replay_window_are_accepted():
    event = vector_provider(now=VECTOR_TIME + 899).parse_webhook(JSON_HEADERS, callback())
    assert (event.event_id, event.stale) == ("ev-1", False)

