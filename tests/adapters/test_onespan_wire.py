"""The exact HTTP requests the OneSpan adapter sends, and how it reads the answers."""

from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP

import pytest
import responses
from responses import matchers

from adapters.onespan.adapter import CALLBACK_EVENTS, OneSpanProvider
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
    SigningRequestSpec,
    SigningState,
)
from sandbox.pdfgen import text_pdf

BASE = "https://sandbox.esignlive.com"
API = f"{BASE}/api"
KEY = "b25lc3Bhbi1rZXk6c2VjcmV0"
AUTH = {"Authorization": f"Basic {KEY}"}
HOOK = "https://c.example/webhooks/onespan"
PKG = "LWsUTvGgE4WpOvaQPT16idnxNj8="
REF = RequestRef("onespan", PKG)
NOW = 1_790_000_000.0  # 2026-09-21T14:13:20Z
PDF = text_pdf([["page 1"], ["page 2"]])
JSON_TYPE = "application/json; esl-api-version=11.68.0"


def provider() -> OneSpanProvider:
    return OneSpanProvider(api_key=KEY, base_url=BASE, callback_key="cb-key-123", retry_wait_initial=0,
                           clock=lambda: NOW)


def _parts(request) -> list[tuple[dict, bytes]]:
    raw = b"Content-Type: " + request.headers["Content-Type"].encode() + b"\r\n\r\n" + request.body
    message = BytesParser(policy=HTTP).parsebytes(raw)
    return [(dict(part.items()), part.get_payload(decode=True)) for part in message.iter_parts()]


def _spec(documents, signers, **extra) -> SigningRequestSpec:
    return SigningRequestSpec(external_id="job-7", subject="Proposal: Acme", message="Please sign",
                              callback_url=HOOK, documents=documents, signers=signers, **extra)


def _expect_callback_registration():
    responses.get(f"{API}/callback", json={}, match=[matchers.header_matcher(AUTH)])
    registration = {"url": HOOK, "key": "cb-key-123", "events": list(CALLBACK_EVENTS)}
    responses.post(f"{API}/callback", json={}, match=[
        matchers.header_matcher(AUTH), matchers.json_params_matcher(registration)])


def _expect_send(reminders=True):
    if reminders:
        responses.get(f"{API}/packages/{PKG}/reminders", status=204, match=[matchers.header_matcher(AUTH)])
        responses.post(f"{API}/packages/{PKG}/reminders", json={}, match=[matchers.json_params_matcher(
            {"packageId": PKG, "startInDaysDelay": 2, "intervalInDays": 3, "repetitionsCount": 4})])
    responses.post(f"{API}/packages/{PKG}", body=b"", match=[
        matchers.header_matcher(AUTH), matchers.json_params_matcher({"status": "SENT"})])


def _role(n, email, first, last, auth=None):
    return {"id": f"signer{n}", "name": f"signer{n}", "type": "SIGNER", "index": n, "signers": [
        {"id": f"signer{n}", "email": email, "firstName": first, "lastName": last,
         "auth": auth or {"scheme": "NONE", "challenges": []}, "delivery": {"email": True}}]}


def _box(n, left):
    field = {"type": "SIGNATURE", "subtype": "FULLNAME", "page": 1, "top": 919, "left": left, "width": 200,
             "height": 50}
    return {"role": f"signer{n}", "fields": [field]}


@responses.activate
def test_create_one_document_one_signer_exact_requests():
    _expect_callback_registration()
    responses.post(f"{API}/packages", json={"id": PKG},
                   match=[matchers.header_matcher({**AUTH, "Accept": JSON_TYPE})])
    _expect_send()
    spec = _spec((DocumentSpec("Quote", "Quote.pdf", PDF),), (SignerSpec("dana@x.io", "Dana", "Lee", 1),))
    assert provider().create(spec) == REF

    assert [(c.request.method, c.request.url) for c in responses.calls] == [
        ("GET", f"{API}/callback"), ("POST", f"{API}/callback"), ("POST", f"{API}/packages"),
        ("GET", f"{API}/packages/{PKG}/reminders"), ("POST", f"{API}/packages/{PKG}/reminders"),
        ("POST", f"{API}/packages/{PKG}")]
    create = responses.calls[2].request
    assert create.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    parts = _parts(create)
    assert [h["Content-Disposition"] for h, _ in parts] == [
        'form-data; name="payload"', 'form-data; name="file"; filename="Quote"']
    assert b'name="payload"\r\nContent-Type: text/plain; charset=UTF-8\r\n' in create.body
    assert parts[1][0]["Content-Type"] == "application/pdf" and parts[1][1] == PDF
    assert json.loads(parts[0][1]) == {
        "name": "Proposal: Acme", "description": "Please sign", "emailMessage": "Please sign",
        "type": "PACKAGE", "status": "DRAFT", "autocomplete": True, "language": "en",
        "settings": {"ceremony": {"declineButton": True}},
        "data": {"externalId": "job-7", "origin": "esign-connector", "sendReminders": "true"},
        "roles": [_role(1, "dana@x.io", "Dana", "Lee")],
        "documents": [{"id": "doc1", "name": "Quote", "index": 1, "approvals": [_box(1, 60)]}]}


@responses.activate
def test_create_several_documents_two_signers_in_order_one_with_sms():
    _expect_callback_registration()
    responses.post(f"{API}/packages", json={"id": PKG})
    _expect_send()
    one_page = text_pdf([["only page"]])
    spec = _spec((DocumentSpec("Quote: Q/1", "Quote Q-1.pdf", PDF),
                  DocumentSpec("Terms", "Terms.pdf", one_page), DocumentSpec("Terms", "Terms-2.pdf", PDF)),
                 (SignerSpec("dana@x.io", "Dana", "Lee", 1, "+1 (555) 010-0100", SignerAuth.SMS),
                  SignerSpec("eli@x.io", "Eli", "Buyer", 2)), expires_in_days=14, language="fr")
    assert provider().create(spec) == REF

    parts = _parts(responses.calls[2].request)
    assert [h["Content-Disposition"] for h, _ in parts[1:]] == [
        'form-data; name="file"; filename="Quote- Q-1"', 'form-data; name="file"; filename="Terms"',
        'form-data; name="file"; filename="Terms (2)"']
    assert [body for _, body in parts[1:]] == [PDF, one_page, PDF]
    payload = json.loads(parts[0][1])
    assert (payload["due"], payload["language"]) == ("2026-10-05T14:13:20Z", "fr")
    assert payload["roles"] == [
        _role(1, "dana@x.io", "Dana", "Lee", {"scheme": "SMS", "challenges": [{"question": "+15550100100"}]}),
        _role(2, "eli@x.io", "Eli", "Buyer")]
    last_page_of_one = [{**a, "fields": [{**a["fields"][0], "page": 0}]} for a in (_box(1, 60), _box(2, 300))]
    assert payload["documents"] == [
        {"id": "doc1", "name": "Quote- Q-1", "index": 1, "approvals": [_box(1, 60), _box(2, 300)]},
        {"id": "doc2", "name": "Terms", "index": 2, "approvals": last_page_of_one},
        {"id": "doc3", "name": "Terms (2)", "index": 3, "approvals": [_box(1, 60), _box(2, 300)]}]


@responses.activate
def test_create_without_reminders_and_with_the_callback_already_in_place():
    responses.get(f"{API}/callback", json={"url": HOOK, "key": "cb-key-123", "events": list(CALLBACK_EVENTS)})
    responses.post(f"{API}/packages", json={"id": PKG})
    _expect_send(reminders=False)
    spec = _spec((DocumentSpec("Quote", "Quote.pdf", PDF),), (SignerSpec("dana@x.io", "Dana", "Lee", 1),),
                 send_reminders=False)
    adapter = provider()
    assert adapter.create(spec) == REF
    payload = json.loads(_parts(responses.calls[1].request)[0][1])
    assert payload["data"]["sendReminders"] == "false" and "due" not in payload
    assert len(responses.calls) == 3
    adapter.create(spec)  # the callback is checked once per process
    assert [c.request.url for c in responses.calls[3:]] == [f"{API}/packages", f"{API}/packages/{PKG}"]


def test_only_event_names_of_the_11_51_enum_are_registered():
    # DOCUMENT_VIEWED is not in spec 11.51's Callback.events; a server that checks the enum refuses it.
    enum_11_51 = {"DOCUMENT_SIGNED", "EMAIL_BOUNCE", "KBA_FAILURE", "PACKAGE_ACTIVATE", "PACKAGE_ARCHIVE",
                  "PACKAGE_ATTACHMENT", "PACKAGE_COMPLETE", "PACKAGE_CREATE", "PACKAGE_DEACTIVATE",
                  "PACKAGE_DECLINE", "PACKAGE_DELETE", "PACKAGE_EXPIRE", "PACKAGE_OPT_OUT",
                  "PACKAGE_READY_FOR_COMPLETE", "PACKAGE_RESTORE", "PACKAGE_TRASH", "ROLE_REASSIGN",
                  "SIGNER_COMPLETE", "SIGNER_LOCKED", "TEMPLATE_CREATE"}
    assert set(CALLBACK_EVENTS) <= enum_11_51


@responses.activate
@pytest.mark.parametrize(("status", "body"), [
    (400, {"code": 400, "messageKey": "error.validation.invalidJson", "message": "Invalid JSON."}),
    (403, {"code": 403, "messageKey": "error.forbidden.noPermission", "message": "Not allowed."}),
])
def test_a_refused_callback_registration_does_not_stop_the_create(caplog, status, body):
    now = [NOW]
    adapter = OneSpanProvider(api_key=KEY, base_url=BASE, callback_key="cb-key-123", retry_wait_initial=0,
                              clock=lambda: now[0])
    responses.get(f"{API}/callback", json={})
    responses.post(f"{API}/callback", status=status, json=body)
    responses.post(f"{API}/packages", json={"id": PKG})
    _expect_send()
    spec = _spec((DocumentSpec("Quote", "Quote.pdf", PDF),), (SignerSpec("dana@x.io", "Dana", "Lee", 1),))
    with caplog.at_level("WARNING", logger="adapters.onespan.adapter"):
        assert adapter.create(spec) == REF
        assert adapter.create(spec) == REF  # not asked again within the hour, not logged again
    paths = [(c.request.method, c.request.url.removeprefix(API)) for c in responses.calls]
    assert paths.count(("POST", "/callback")) == 1 and paths.count(("POST", "/packages")) == 2
    refusals = [r for r in caplog.records if "refused the callback configuration" in r.getMessage()]
    assert len(refusals) == 1 and "status checks" in refusals[0].getMessage()

    now[0] += 3601  # an hour on, the account was put right: registered again, callbacks back
    responses.replace(responses.POST, f"{API}/callback", json={})
    adapter.create(spec)
    adapter.create(spec)
    paths = [(c.request.method, c.request.url.removeprefix(API)) for c in responses.calls]
    assert paths.count(("POST", "/callback")) == 2 and paths.count(("POST", "/packages")) == 4


@responses.activate
def test_a_transient_failure_of_the_registration_fails_the_create_for_a_retry():
    responses.get(f"{API}/callback", status=503, json={"code": 503, "messageKey": "error.internal"})
    with pytest.raises(ProviderTransientError):
        provider().create(_spec((DocumentSpec("Quote", "Quote.pdf", PDF),),
                                (SignerSpec("dana@x.io", "Dana", "Lee", 1),)))
    assert not any(c.request.url.endswith("/packages") for c in responses.calls)


@pytest.mark.parametrize(("document", "signer", "message"), [
    (PDF, SignerSpec("d@x.io", "D", "L", 1, None, SignerAuth.SMS), "needs a mobile phone"),
    (PDF, SignerSpec("d@x.io", "D", "L", 1, "555-0100", SignerAuth.SMS), "international form"),
    (b"not a pdf", SignerSpec("d@x.io", "D", "L", 1), "not a readable PDF"),
])
@responses.activate
def test_create_refuses_locally_what_onespan_would_refuse(document, signer, message):
    responses.get(f"{API}/callback", json={"url": HOOK, "key": "cb-key-123", "events": list(CALLBACK_EVENTS)})
    with pytest.raises(ProviderValidationError, match=message):
        provider().create(_spec((DocumentSpec("Quote", "q.pdf", document),), (signer,)))
    assert [c.request.method for c in responses.calls] == ["GET"]


def _list(query, results):
    responses.get(f"{API}/packages", json={"count": len(results), "results": results}, match=[
        matchers.query_param_matcher(
            {"query": query, "from": "1", "to": "100", "sort": "created", "dir": "desc"})])


@responses.activate
def test_find_by_external_id_finds_a_draft_left_by_a_crash_and_resume_sends_it():
    _list("DRAFT", [{"id": "other", "data": {"externalId": "job-x"}, "status": "DRAFT"},
                    {"id": PKG, "data": {"externalId": "job-7", "sendReminders": "true"}, "status": "DRAFT"}])
    assert provider().find_by_external_id("job-7") == REF
    assert len(responses.calls) == 1  # finding has no side effect: the job may be about to cancel it
    responses.get(f"{API}/packages/{PKG}", json={"id": PKG, "status": "DRAFT",
                                                 "data": {"externalId": "job-7", "sendReminders": "true"}})
    _expect_send()
    provider().resume(REF)
    assert len(responses.calls) == 5


@responses.activate
def test_resume_leaves_a_package_that_was_already_sent_alone():
    responses.get(f"{API}/packages/{PKG}", json={"id": PKG, "status": "SENT", "data": {"externalId": "job-7"}})
    provider().resume(REF)
    assert len(responses.calls) == 1


@responses.activate
def test_find_by_external_id_scans_each_list_and_has_no_side_effect_on_sent_packages():
    for query in ("DRAFT", "SENT", "COMPLETED", "DECLINED", "EXPIRED", "OPTED_OUT", "ARCHIVED", "trashed"):
        found = [{"id": PKG, "data": {"externalId": "job-7"}, "status": query}]
        _list(query, found if query == "EXPIRED" else [])
    assert provider().find_by_external_id("job-7") == REF
    assert len(responses.calls) == 5
    assert provider().find_by_external_id("job-none") is None
    assert len(responses.calls) == 5 + 8


def _package(status="SENT", signed=(None, None), consent=(None, None), **extra) -> dict:
    return {"id": PKG, "status": status, "data": {"externalId": "job-7"}, "roles": [
        {"id": "owner", "type": "SENDER", "index": 0, "signers": [{"id": "owner", "email": "sender@x.io"}]},
        {"id": "signer2", "type": "SIGNER", "index": 2,
         "signers": [{"id": "signer2", "email": "eli@x.io"}]},
        {"id": "signer1", "type": "SIGNER", "index": 1,
         "signers": [{"id": "signer1", "email": "dana@x.io"}]}],
        "documents": [
            {"id": "default-consent", "approvals": [{"role": "signer1", "accepted": consent[0]},
                                                    {"role": "signer2", "accepted": consent[1]}]},
            {"id": "doc2", "name": "Terms", "index": 2, "approvals": [
                {"role": "signer1", "signed": signed[0]}, {"role": "signer2", "signed": signed[1]}]},
            {"id": "doc1", "name": "Quote", "index": 1, "approvals": [
                {"role": "signer1", "signed": signed[0]}, {"role": "signer2", "signed": signed[1]}]}],
        **extra}


T = "2026-09-21T14:00:00Z"
DECLINE = [{"content": "Hello", "from": {"email": "sender@x.io"}},
           {"content": "No budget", "from": {"id": "signer1", "email": "DANA@x.io"}}]


@pytest.mark.parametrize(("package", "state", "signed", "viewed"), [
    (_package(), SigningState.SENT, [False, False], [False, False]),
    (_package("DRAFT"), SigningState.SENT, [False, False], [False, False]),
    (_package(consent=(T, None)), SigningState.VIEWED, [False, False], [True, False]),
    (_package(signed=(T, None), consent=(T, None)), SigningState.PARTIALLY_SIGNED, [True, False],
     [True, False]),
    (_package("COMPLETED", (T, T), completed=T), SigningState.COMPLETED, [True, True], [True, True]),
    (_package("ARCHIVED", (T, T), completed=T), SigningState.COMPLETED, [True, True], [True, True]),
    (_package("ARCHIVED"), SigningState.CANCELLED, [False, False], [False, False]),
    (_package("EXPIRED"), SigningState.EXPIRED, [False, False], [False, False]),
    (_package("DRAFT", trashed=True), SigningState.CANCELLED, [False, False], [False, False]),
    (_package("SENT", trashed=True), SigningState.CANCELLED, [False, False], [False, False]),
    (_package("COMPLETED", (T, T), trashed=True), SigningState.COMPLETED, [True, True], [True, True]),
    (_package("SOMETHING_NEW"), SigningState.SENT, [False, False], [False, False]),
    (_package("DECLINED", messages=DECLINE), SigningState.DECLINED, [False, False], [False, False]),
    (_package("OPTED_OUT", messages=DECLINE[1:]), SigningState.DECLINED, [False, False], [False, False]),
])
@responses.activate
def test_status_mapping(package, state, signed, viewed):
    responses.get(f"{API}/packages/{PKG}", json=package, match=[matchers.header_matcher(
        {**AUTH, "Accept": JSON_TYPE})])
    status = provider().get_status(REF)
    assert status.state == state
    assert [s.email for s in status.signers] == ["dana@x.io", "eli@x.io"]  # in signing order
    assert [s.signed for s in status.signers] == signed and [s.viewed for s in status.signers] == viewed
    assert status.external_id == "job-7"
    assert status.provider_status == package["status"] + (" (trashed)" if package.get("trashed") else "")
    if state == SigningState.DECLINED:
        assert (status.declined_by, status.decline_reason) == ("dana@x.io", "No budget")
        assert status.signers[0].declined and status.signers[0].decline_reason == "No budget"
    else:
        assert status.decline_reason is None and not any(s.declined for s in status.signers)


@responses.activate
def test_downloads_each_document_in_order_then_the_evidence_summary():
    responses.get(f"{API}/packages/{PKG}", json=_package("COMPLETED", (T, T), completed=T))
    pdf_accept = matchers.header_matcher(
        {**AUTH, "Accept": "application/octet-stream; esl-api-version=11.68.0"})
    responses.get(f"{API}/packages/{PKG}/documents/doc1/pdf", body=b"%PDF-1.4 quote", match=[pdf_accept])
    responses.get(f"{API}/packages/{PKG}/documents/doc2/pdf", body=b"%PDF-1.4 terms", match=[pdf_accept])
    responses.get(f"{API}/packages/{PKG}/evidence/summary", body=b"%PDF-1.4 evidence", match=[
        matchers.header_matcher({**AUTH, "Accept": "application/pdf; esl-api-version=11.68.0"})])
    files = provider().download_signed(REF)
    assert [(f.filename, f.content) for f in files] == [("Quote - signed.pdf", b"%PDF-1.4 quote"),
                                                        ("Terms - signed.pdf", b"%PDF-1.4 terms")]
    evidence = provider().download_evidence(REF)
    assert (evidence.filename, evidence.content) == ("evidence summary.pdf", b"%PDF-1.4 evidence")


@responses.activate
def test_downloads_refuse_an_unfinished_package_and_a_body_that_is_not_a_pdf():
    responses.get(f"{API}/packages/{PKG}", json=_package())
    with pytest.raises(ProviderValidationError, match="package is SENT"):
        provider().download_signed(REF)
    responses.get(f"{API}/packages/{PKG}/evidence/summary", body=b"<html>login</html>")
    with pytest.raises(ProviderTransientError, match="did not return a PDF"):
        provider().download_evidence(REF)


@responses.activate
def test_cancel_pulls_the_package_back_then_trashes_it():
    responses.put(f"{API}/packages/{PKG}", body=b"", match=[
        matchers.header_matcher(AUTH), matchers.json_params_matcher({"status": "DRAFT"})])
    responses.post(f"{API}/packages/{PKG}", body=b"", match=[
        matchers.header_matcher(AUTH), matchers.json_params_matcher({"trashed": True})])
    provider().cancel(REF)
    assert [c.request.method for c in responses.calls] == ["PUT", "POST"]


@responses.activate
def test_reminders_go_to_the_signers_whose_turn_it_is():
    responses.get(f"{API}/packages/{PKG}", json=_package(signed=(T, None)))
    responses.post(f"{API}/packages/{PKG}/notifications", body=b"", match=[
        matchers.header_matcher(AUTH), matchers.json_params_matcher({"email": "eli@x.io"})])
    provider().send_reminder(REF)
    assert len(responses.calls) == 2
    responses.get(f"{API}/packages/{PKG}", json=_package())
    responses.post(f"{API}/packages/{PKG}/notifications", body=b"", match=[
        matchers.json_params_matcher({"email": "dana@x.io"})])
    provider().send_reminder(REF)
    assert responses.calls[-1].request.body == b'{"email": "dana@x.io"}'


@responses.activate
def test_no_reminder_for_a_finished_package():
    responses.get(f"{API}/packages/{PKG}", json=_package("EXPIRED"))
    with pytest.raises(ProviderValidationError, match="package is EXPIRED"):
        provider().send_reminder(REF)


# --- errors ---------------------------------------------------------------------------------

def _error(status, key, message="Some text."):
    return {"code": status, "messageKey": key, "message": message, "name": "Error"}


@pytest.mark.parametrize(("status", "body", "error", "text"), [
    (401, _error(401, "error.unauthorised.noApiKey", "Missing or invalid API key."), ProviderAuthError,
     "Missing or invalid API key. (error.unauthorised.noApiKey)"),
    (403, _error(403, "error.forbidden.noPermission"), ProviderAuthError, "credentials were refused"),
    (404, _error(404, "error.notFound.packageNotFound"), ProviderNotFound, "error.notFound.packageNotFound"),
    (400, _error(400, "error.validation.packageValidation", "Bad field."), ProviderValidationError,
     "Bad field."),
    (422, _error(422, "error.unprocessableEntity.defaultConsent.notExist"), ProviderValidationError,
     "Some text."),
    (502, "<html>bad gateway</html>", ProviderTransientError, "502"),
])
@responses.activate
def test_error_taxonomy_and_no_secret_in_messages(status, body, error, text):
    kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
    responses.get(f"{API}/packages/{PKG}", status=status, **kwargs)
    with pytest.raises(error) as raised:
        provider().get_status(REF)
    assert text in str(raised.value) and KEY not in str(raised.value)
    assert "{" not in raised.value.message  # no vendor JSON leaves the adapter


@pytest.mark.parametrize(("status", "key", "error"), [
    (403, "error.forbidden.quotaExceeded", ProviderQuotaError),
    (402, "error.payment.required", ProviderQuotaError),
    (403, "error.unauthorised.sessionExpired", ProviderAuthError),
    (503, "error.internal", ProviderTransientError),
])
@responses.activate
def test_create_errors_and_create_is_never_retried_blindly(status, key, error):
    responses.get(f"{API}/callback", json={"url": HOOK, "key": "cb-key-123", "events": list(CALLBACK_EVENTS)})
    responses.post(f"{API}/packages", status=status, json=_error(status, key))
    spec = _spec((DocumentSpec("Quote", "q.pdf", PDF),), (SignerSpec("d@x.io", "D", "L", 1),))
    with pytest.raises(error):
        provider().create(spec)
    assert [c.request.method for c in responses.calls] == ["GET", "POST"]


@responses.activate
def test_rate_limits_and_outages_are_retried_for_reads():
    responses.get(f"{API}/packages/{PKG}", status=429, headers={"Retry-After": "0"},
                  json=_error(429, "error.tooManyRequests"))
    responses.get(f"{API}/packages/{PKG}", status=503, json=_error(503, "error.internal"))
    responses.get(f"{API}/packages/{PKG}", json=_package())
    assert provider().get_status(REF).state == SigningState.SENT
    assert len(responses.calls) == 3
    responses.replace(responses.GET, f"{API}/packages/{PKG}", status=429, headers={"Retry-After": "7"},
                      json={})
    with pytest.raises(ProviderRateLimited) as limited:
        OneSpanProvider(api_key=KEY, base_url=BASE, callback_key="k", retry_wait_initial=0).http.request(
            "GET", f"/packages/{PKG}", idempotent=False)
    assert limited.value.retry_after == 7 and limited.value.retriable
