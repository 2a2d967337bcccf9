"""The exact HTTP requests the Legalsign adapter sends (Legalesign API v1), and how it reads answers."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
import responses
from responses import matchers

from adapters.legalsign.adapter import LegalsignProvider
from connector.ports.provider import (
    DocumentSpec,
    ProviderAuthError,
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
from sandbox.pdfgen import text_pdf

API = "https://eu-api.legalesign.com/api/v1"
AUTH = {"Authorization": "ApiKey user123:secret456"}
DOC, PDF_ID = "5d2e0000-0000-4000-8000-000000000001", "7a1b0000-0000-4000-8000-000000000002"
NOW = 1_790_000_000.0  # 2026-09-21T14:13:20Z
DEADLINE = "2026-10-05T14:13:20"
PDF = text_pdf([["page 1"], ["page 2"]])
HOOK = "https://c.example/webhooks/legalsign/tok"
REF = RequestRef("legalsign", DOC)


def provider(**kwargs) -> LegalsignProvider:
    return LegalsignProvider(username="user123", api_key="secret456", group="acme-prod", base_url=API,
                             callback_secret="cb-secret", download_hosts=["*.legalesign.com"],
                             retry_wait_initial=0, clock=lambda: NOW, **kwargs)


def spec(*signers: SignerSpec, **extra) -> SigningRequestSpec:
    values = {"external_id": "job7", "subject": "Terms", "message": "Please sign", "callback_url": HOOK,
              "documents": (DocumentSpec("Quote Q-1", "q.pdf", PDF),), "signers": signers, **extra}
    return SigningRequestSpec(**values)


ANNE = SignerSpec("anne@x.io", "Anne-Marie", "O'Neil", 1, "+31612345678", SignerAuth.SMS)
BOB = SignerSpec("bob@x.io", "Bob", "", 2)


def sent_json(call) -> object:
    return json.loads(call.request.body)


def field(n: int, left: float, right: float) -> dict:
    return {"ax": left, "ay": 0.78, "bx": right, "by": 0.84, "page": 2, "element_type": "signature", "signer": n,
            "label": f"Signature {n}", "optional": False}


def mock_send(document_location: str = f"{API}/document/{DOC}/", hooks: list | None = None) -> None:
    responses.get(f"{API}/notifications/", json=hooks or [], match=[matchers.header_matcher(AUTH)])
    responses.post(f"{API}/subscribe/", status=201, match=[matchers.header_matcher(AUTH)])
    responses.post(f"{API}/templatepdf/", status=201, headers={"Location": f"{API}/templatepdf/{PDF_ID}/"},
                   match=[matchers.header_matcher(AUTH)])
    responses.post(f"{API}/templatepdf/{PDF_ID}/fields/", status=201, match=[matchers.header_matcher(AUTH)])
    responses.post(f"{API}/document/", status=201, headers={"Location": document_location},
                   match=[matchers.header_matcher(AUTH)])


@responses.activate
def test_create_with_one_signer_registers_the_callback_uploads_places_the_field_and_sends():
    mock_send()
    assert provider().create(spec(SignerSpec("bob@x.io", "Bob", "Builder", 1), send_reminders=False)) == REF
    calls = [(c.request.method, c.request.url) for c in responses.calls]
    assert calls == [("GET", f"{API}/notifications/"), ("POST", f"{API}/subscribe/"), ("POST", f"{API}/templatepdf/"),
                     ("POST", f"{API}/templatepdf/{PDF_ID}/fields/"), ("POST", f"{API}/document/")]
    assert sent_json(responses.calls[1]) == {"url": HOOK, "notify": "realtime", "eventFilter": "", "group": "acme-prod"}
    assert sent_json(responses.calls[2]) == {"group": "/api/v1/group/acme-prod/",
                                             "pdf_file": base64.b64encode(PDF).decode(), "title": "Quote Q-1",
                                             "process_tags": False, "archive_upon_send": True}
    assert sent_json(responses.calls[3]) == [field(1, 0.08, 0.46)]
    assert sent_json(responses.calls[4]) == {
        "group": "/api/v1/group/acme-prod/", "name": "Quote Q-1", "templatepdf": f"/api/v1/templatepdf/{PDF_ID}/",
        "signers": [{"firstname": "Bob", "lastname": "Builder", "email": "bob@x.io", "subject": "Terms",
                     "message": "Please sign"}],
        "signers_in_order": True, "signature_type": 4, "append_pdf": True, "do_email": True, "auto_archive": False,
        "reminders": "", "tag": "job7", "tag1": "", "return_signer_links": False}


@responses.activate
def test_create_with_two_signers_sends_them_in_order_with_sms_and_deadline():
    mock_send(document_location=f"/api/v1/document/{DOC}/", hooks=[
        {"active": True, "notify_when": 10, "url": HOOK, "group_id": 3, "event_filter": ""}])
    ref = provider().create(spec(BOB, ANNE, expires_in_days=14))  # given out of order on purpose
    assert ref == REF
    assert [c.request.url for c in responses.calls if c.request.url.endswith("/subscribe/")] == []
    assert sent_json(responses.calls[2]) == [field(1, 0.08, 0.46), field(2, 0.54, 0.92)]
    body = sent_json(responses.calls[3])
    assert (body["signers_in_order"], body["tag"], body["tag1"], body["reminders"]) == (
        True, "job7", f"{DEADLINE}Z", "default")
    assert body["signers"] == [
        {"firstname": "Anne-Marie", "lastname": "O'Neil", "email": "anne@x.io", "subject": "Terms",
         "message": "Please sign", "sms": "+31612345678", "expires": DEADLINE, "timezone": "UTC"},
        {"firstname": "Bob", "lastname": "-", "email": "bob@x.io", "subject": "Terms", "message": "Please sign",
         "expires": DEADLINE, "timezone": "UTC"}]


@responses.activate
def test_signers_sharing_an_order_number_sign_in_parallel():
    mock_send()
    provider().create(spec(SignerSpec("a@x.io", "A", "A", 1), SignerSpec("b@x.io", "B", "B", 1)))
    assert sent_json(responses.calls[-1])["signers_in_order"] is False


@pytest.mark.parametrize(("request_spec", "message"), [
    (spec(BOB, documents=(DocumentSpec("a", "a.pdf", PDF),) * 2), "one PDF"),
    (spec(BOB, external_id="job 7?"), "tag"),
    (spec(BOB, external_id="job7\n"), "tag"),
    (spec(SignerSpec("a@x.io", "A", "B", 1, None, SignerAuth.SMS)), "mobile number"),
    (spec(BOB, documents=(DocumentSpec("a", "a.pdf", b"%PDF-1.4 broken"),)), "could not be read"),
])
@responses.activate
def test_requests_legalesign_cannot_take_are_refused_before_any_call(request_spec, message):
    with pytest.raises(ProviderValidationError, match=message):
        provider().create(request_spec)
    assert not responses.calls


@responses.activate
def test_a_failed_send_is_not_retried_blindly():
    mock_send()
    responses.replace(responses.POST, f"{API}/document/", status=500,
                      json={"error_message": "Sorry, this request could not be processed."})
    with pytest.raises(ProviderTransientError):
        provider().create(spec(BOB))
    assert sum(c.request.url == f"{API}/document/" for c in responses.calls) == 1


@responses.activate
def test_a_send_answered_without_a_usable_location_is_transient():
    mock_send(document_location="https://eu-api.legalesign.com/api/v1/document/../")
    with pytest.raises(ProviderTransientError, match="without a Location"):
        provider().create(spec(BOB))


def test_the_callback_path_is_secret_url_safe_and_checked_in_constant_time():
    adapter = provider()
    token = adapter.callback_path_token()
    assert adapter.callback_path() == f"/webhooks/legalsign/{token}" and len(token) == 43
    assert token.replace("-", "").replace("_", "").isalnum() and token == provider().callback_path_token()
    assert adapter.accepts_path_token(token) and not adapter.accepts_path_token(None)
    assert not adapter.accepts_path_token("guess") and not adapter.accepts_path_token(token[:-1])
    assert "cb-secret" not in repr(adapter) and "secret456" not in repr(adapter) and token not in repr(adapter)
    assert LegalsignProvider("u", "k", "g", callback_secret="other").callback_path_token() != token
    assert not LegalsignProvider("u", "k", "g", callback_secret="").accepts_path_token(token)


@responses.activate
def test_find_by_external_id_reads_every_page_for_the_tag():
    query = {"group": "acme-prod", "limit": "100", "nosigners": "1"}
    responses.get(f"{API}/document/", match=[matchers.query_param_matcher({**query, "offset": "0"})], json={
        "meta": {"total_count": 3, "next": "/api/v1/document/?offset=2"},
        "objects": [{"uuid": "a", "tag": "job1"}, {"uuid": "b", "tag": "job2"}]})
    responses.get(f"{API}/document/", match=[matchers.query_param_matcher({**query, "offset": "2"})], json={
        "meta": {"total_count": 3, "next": None}, "objects": [{"uuid": DOC, "tag": "job7"}]})
    assert provider().find_by_external_id("job7") == REF
    assert provider().find_by_external_id("job9") is None


def document(status: int, signer_statuses=(10, 4), **extra) -> dict:
    return {"uuid": DOC, "status": status, "tag": "job7", "tag1": f"{DEADLINE}Z", "name": "Quote Q-1",
            "download_final": status == 30, "signer_objects": [
                {"uuid": f"s{n}", "email": email, "order": n, "status": code}
                for n, (email, code) in enumerate(zip(("anne@x.io", "bob@x.io"), signer_statuses, strict=True))],
            **extra}


@pytest.mark.parametrize(("answer", "state"), [
    (document(10), SigningState.SENT),
    (document(10, (15, 4)), SigningState.SENT),  # an opened email is not a view
    (document(10, (20, 4)), SigningState.VIEWED),
    (document(10, (40, 10)), SigningState.PARTIALLY_SIGNED),
    (document(20, (40, 35)), SigningState.PARTIALLY_SIGNED),
    (document(30, (40, 40), download_final=False), SigningState.PARTIALLY_SIGNED),
    (document(30, (40, 50)), SigningState.COMPLETED),
    (document(40), SigningState.CANCELLED),
    (document(10, tag1="2026-09-01T00:00:00Z"), SigningState.EXPIRED),
    (document(30, (40, 40), tag1="2026-09-01T00:00:00Z"), SigningState.COMPLETED),
    ({**document(10), "signer_objects": None, "signers": [
        ["/api/v1/signer/s0/", "Anne", "O", "anne@x.io", "", True, 40, 0],
        ["/api/v1/signer/s1/", "Bob", "B", "bob@x.io", "", True, 10, 1]]}, SigningState.PARTIALLY_SIGNED),
])
@responses.activate
def test_status_mapping(answer, state):
    responses.get(f"{API}/document/{DOC}/", json=answer, match=[matchers.header_matcher(AUTH)])
    status = provider().get_status(REF)
    assert (status.state, status.external_id, status.provider_status) == (state, "job7", str(answer["status"]))
    assert [s.email for s in status.signers] == ["anne@x.io", "bob@x.io"]


@responses.activate
def test_rejection_reason_and_who_come_from_the_rejecting_signer():
    responses.get(f"{API}/document/{DOC}/", json=document(50, (40, 60)))
    responses.get(f"{API}/signer/s1/rejection/", json={"status": 60, "reason": "Wrong address"})
    status = provider().get_status(REF)
    assert (status.state, status.declined_by, status.decline_reason) == (
        SigningState.DECLINED, "bob@x.io", "Wrong address")
    assert [(s.signed, s.declined, s.decline_reason) for s in status.signers] == [
        (True, False, None), (False, True, "Wrong address")]


SIGNED = b"%PDF-1.7 final"


@responses.activate
def test_signed_pdf_and_audit_log_are_downloaded_and_checked():
    responses.get(f"{API}/document/{DOC}/", json=document(30, (40, 40), hash_value=hashlib.sha256(SIGNED).hexdigest()))
    responses.get(f"{API}/pdf/{DOC}/", body=SIGNED, content_type="application/pdf",
                  match=[matchers.header_matcher(AUTH)])
    responses.get(f"{API}/document/{DOC}/auditlog/", body=b"%PDF audit", match=[matchers.header_matcher(AUTH)])
    [signed] = provider().download_signed(REF)
    assert (signed.filename, signed.content) == ("Quote Q-1 - signed.pdf", SIGNED)
    assert provider().download_evidence(REF).content == b"%PDF audit"
    responses.replace(responses.GET, f"{API}/pdf/{DOC}/", body=b"%PDF tampered")
    with pytest.raises(ProviderTransientError, match="hash_value"):
        provider().download_signed(REF)
    responses.replace(responses.GET, f"{API}/document/{DOC}/auditlog/", body=b"<html>oops</html>")
    with pytest.raises(ProviderTransientError, match="not a PDF"):
        provider().download_evidence(REF)


@responses.activate
def test_a_redirected_pdf_is_fetched_from_an_allowed_host_without_our_credentials():
    responses.get(f"{API}/document/{DOC}/", json=document(30, (40, 40)))
    responses.get(f"{API}/pdf/{DOC}/", status=302, headers={"Location": "https://files.legalesign.com/t/x.pdf"})
    responses.get("https://files.legalesign.com/t/x.pdf", body=SIGNED)
    assert provider().download_signed(REF)[0].content == SIGNED
    assert "Authorization" not in responses.calls[-1].request.headers
    responses.replace(responses.GET, f"{API}/pdf/{DOC}/", status=302, headers={"Location": "https://evil.example/x"})
    with pytest.raises(ProviderValidationError, match="not one of the provider's configured download hosts"):
        provider().download_signed(REF)


@pytest.mark.parametrize("location", [
    "https://ec2-203-0-113-25.compute-1.amazonaws.com/x.pdf",  # anyone's EC2 instance
    "https://internal-lb-1.eu-west-2.elb.amazonaws.com/x.pdf",  # an internal load balancer
    "https://s3.amazonaws.com/someones-bucket/x.pdf",
    "https://a.b.legalesign.com/x.pdf", "https://files.legalesign.com:8443/x.pdf",
])
@responses.activate
def test_by_default_a_redirect_goes_only_to_legalesigns_own_hosts(location):
    """The old default, ["*.legalesign.com", "*.amazonaws.com"], admitted any AWS host name."""
    responses.get(f"{API}/document/{DOC}/", json=document(30, (40, 40)))
    responses.get(f"{API}/pdf/{DOC}/", status=302, headers={"Location": location})
    default = LegalsignProvider(username="user123", api_key="secret456", group="acme-prod", base_url=API,
                                callback_secret="cb-secret", retry_wait_initial=0, clock=lambda: NOW)
    with pytest.raises(ProviderValidationError, match="not one of the provider's configured download hosts"):
        default.download_signed(REF)
    assert len(responses.calls) == 2  # nothing was fetched from the redirect target


@pytest.mark.parametrize(("answer", "pdf_status", "error", "message"), [
    (document(10), 200, ProviderValidationError, "not ready"),
    (document(30, (40, 40)), 201, ProviderTransientError, "restored from the archive"),
    (document(30, (40, 40)), 202, ProviderTransientError, "restored from the archive"),
])
@responses.activate
def test_a_signed_pdf_that_is_not_there_yet(answer, pdf_status, error, message):
    responses.get(f"{API}/document/{DOC}/", json=answer)
    responses.get(f"{API}/pdf/{DOC}/", status=pdf_status)
    with pytest.raises(error, match=message):
        provider().download_signed(REF)


@responses.activate
def test_cancel_voids_with_notice_and_tolerates_an_already_voided_document():
    responses.delete(f"{API}/document/{DOC}/", status=204, match=[
        matchers.header_matcher(AUTH), matchers.query_param_matcher({"email": "true"})])
    provider().cancel(REF)
    responses.replace(responses.DELETE, f"{API}/document/{DOC}/", status=400,
                      json={"document": {"status": ["Only documents in progress can be voided."]}})
    responses.get(f"{API}/document/{DOC}/", json=document(40))
    provider().cancel(REF)
    responses.replace(responses.GET, f"{API}/document/{DOC}/", json=document(30, (40, 40)))
    with pytest.raises(ProviderValidationError, match="can no longer be voided: it is completed"):
        provider().cancel(REF)


@responses.activate
def test_reminders_go_only_to_invited_signers_who_have_not_finished():
    responses.get(f"{API}/document/{DOC}/", json={**document(10, (40, 20)), "signer_objects": [
        {"uuid": "s0", "email": "a@x.io", "order": 0, "status": 40},
        {"uuid": "s1", "email": "b@x.io", "order": 1, "status": 20},
        {"uuid": "s2", "email": "c@x.io", "order": 2, "status": 4}]})
    responses.post(f"{API}/signer/s1/send-reminder/", status=200, match=[
        matchers.header_matcher(AUTH), matchers.json_params_matcher({"text": "A reminder: your signature is still "
                                                                              "needed."})])
    provider().send_reminder(REF)
    assert [c.request.url for c in responses.calls if c.request.method == "POST"] == [
        f"{API}/signer/s1/send-reminder/"]
    responses.replace(responses.POST, f"{API}/signer/s1/send-reminder/", status=401)
    with pytest.raises(ProviderTransientError, match="reminder to b@x.io could not be sent"):
        provider().send_reminder(REF)


EVENT = {"id": "evt-1", "version": "1", "object": "document", "event": "finalPdfCreated", "created": int(NOW),
         "data": {"uuid": DOC, "tag": "job7", "status": 30, "group": "acme-prod"}}
RECIPIENT = {**EVENT, "object": "recipient", "event": "rejected",
             "data": {"uuid": "s0", "document": DOC, "tag": "job7", "rejectReason": "No"}}
JSON = {"content-type": "application/json; charset=utf-8"}


def test_realtime_callbacks_parse_in_split_and_dotted_form():
    event = provider().parse_webhook(JSON, json.dumps(EVENT).encode())
    assert (event.provider, event.event_id, event.request_id, event.external_id, event.kind, event.state_hint) == (
        "legalsign", "evt-1", DOC, "job7", "document.finalPdfCreated", SigningState.COMPLETED)
    assert event.occurred_at.timestamp() == NOW
    dotted = {**EVENT, "event": "document.finalPdfCreated"}
    del dotted["object"]
    assert provider().parse_webhook(JSON, json.dumps(dotted).encode()).kind == "document.finalPdfCreated"
    recipient = provider().parse_webhook(JSON, json.dumps(RECIPIENT).encode())
    assert (recipient.request_id, recipient.kind, recipient.state_hint) == (
        DOC, "recipient.rejected", SigningState.DECLINED)
    bounced = {**RECIPIENT, "event": "bounced", "id": None}
    del bounced["id"]
    parsed = provider().parse_webhook(JSON, json.dumps(bounced).encode())
    assert parsed.state_hint is None and len(parsed.event_id) == 64


@pytest.mark.parametrize("created", [int(NOW) - 3600, int(NOW) + 3600, 0])
def test_a_callback_outside_the_replay_window_is_kept_as_a_stale_hint(created):
    event = provider().parse_webhook(JSON, json.dumps({**EVENT, "created": created}).encode())
    assert (event.request_id, event.stale, event.state_hint) == (DOC, True, SigningState.COMPLETED)
    assert not provider().parse_webhook(JSON, json.dumps(EVENT).encode()).stale


@pytest.mark.parametrize("group", [
    "acme-prod", "/api/v1/group/acme-prod/", 3, "Acme Production", None, "", {"id": 3}, "someone-else"])
def test_the_group_of_a_callback_is_not_a_reason_to_refuse_it(group):
    # The schema says only "Group"; /notifications/ reports an integer id. The secret path authenticates, and
    # the document id (confirmed through the API before anything is done) says what the event concerns.
    event = provider().parse_webhook(JSON, json.dumps({**EVENT, "data": {**EVENT["data"], "group": group}}).encode())
    assert (event.request_id, event.kind) == (DOC, "document.finalPdfCreated")


@pytest.mark.parametrize(("headers", "body", "status"), [
    ({"content-type": "application/x-www-form-urlencoded"}, b"data=x&signed=y", 415),
    ({}, json.dumps(EVENT).encode(), 415),
    (JSON, b"nope", 400),
    (JSON, b"[]", 400),
    (JSON, json.dumps({**EVENT, "data": {}}).encode(), 400),
    (JSON, json.dumps({**EVENT, "data": "x"}).encode(), 400),
    (JSON, json.dumps({**EVENT, "object": "group"}).encode(), 400),
    (JSON, json.dumps({**EVENT, "event": "recipient.completed"}).encode(), 400),
    (JSON, json.dumps({**EVENT, "event": ""}).encode(), 400),
    (JSON, json.dumps({**EVENT, "data": {"uuid": "../../x"}}).encode(), 400),
    (JSON, json.dumps({**EVENT, "created": str(int(NOW))}).encode(), 400),
    (JSON, json.dumps({**EVENT, "created": True}).encode(), 400),
    (JSON, json.dumps({**EVENT, "created": 10**20}).encode(), 400),
    (JSON, json.dumps({**EVENT, "id": 7}).encode(), 400),
    (JSON, json.dumps({**EVENT, "data": {**EVENT["data"], "tag": ["job7"]}}).encode(), 400),
])
def test_malformed_callbacks_are_refused(headers, body, status):
    with pytest.raises(WebhookRejected) as refused:
        provider().parse_webhook(headers, body)
    assert refused.value.status_code == status


@responses.activate
def test_bad_credentials_are_an_authentication_error_without_the_secret():
    responses.get(f"{API}/document/{DOC}/", status=401, body=b"")
    with pytest.raises(ProviderAuthError) as refused:
        provider().get_status(REF)
    assert "secret456" not in str(refused.value) and "user123" not in str(refused.value)
    assert len(responses.calls) == 1


@responses.activate
def test_a_refused_send_is_a_validation_error_in_words_not_vendor_json():
    mock_send()
    responses.replace(responses.POST, f"{API}/document/", status=400, json={
        "document": {"name": ["This field is required."], "signers": {"0": {"email": ["Enter a valid email."]}}}})
    with pytest.raises(ProviderValidationError) as refused:
        provider().create(spec(BOB))
    message = str(refused.value)
    assert "document.name: This field is required." in message
    assert "document.signers.0.email: Enter a valid email." in message and "{" not in message


@responses.activate
def test_error_text_never_echoes_a_secret():
    responses.get(f"{API}/document/{DOC}/", status=400, body="bad key secret456 for cb-secret")
    with pytest.raises(ProviderValidationError) as refused:
        provider().get_status(REF)
    assert "secret456" not in str(refused.value) and "cb-secret" not in str(refused.value)


@responses.activate
def test_throttling_is_rate_limited_with_retry_after_and_sends_are_not_repeated():
    mock_send()
    responses.replace(responses.POST, f"{API}/templatepdf/", status=429, headers={"Retry-After": "7"})
    with pytest.raises(ProviderRateLimited) as throttled:
        provider().create(spec(BOB))
    assert throttled.value.retry_after == 7.0 and throttled.value.retriable
    assert sum(c.request.url == f"{API}/templatepdf/" for c in responses.calls) == 1


@responses.activate
def test_server_errors_on_reads_are_retried_then_reported_as_transient():
    responses.get(f"{API}/document/{DOC}/", status=503)
    responses.get(f"{API}/document/{DOC}/", json=document(10))
    assert provider().get_status(REF).state == SigningState.SENT
    assert len(responses.calls) == 2
    responses.replace(responses.GET, f"{API}/document/{DOC}/", status=500)
    with pytest.raises(ProviderTransientError):
        provider().get_status(REF)


@responses.activate
def test_an_unexpected_document_shape_is_transient():
    responses.get(f"{API}/document/{DOC}/", json={"uuid": DOC})
    with pytest.raises(ProviderTransientError, match="unexpected shape"):
        provider().get_status(REF)
    responses.replace(responses.GET, f"{API}/document/{DOC}/", body="<html>maintenance</html>")
    with pytest.raises(ProviderTransientError, match="not JSON"):
        provider().get_status(REF)
