"""The OneSpan adapter against the OneSpan simulator over HTTP, and the simulator's own strictness."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
import zipfile
from dataclasses import dataclass, field

import pytest
import requests
import urllib3
from pypdf import PdfReader, PdfWriter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from adapters.onespan.adapter import CALLBACK_EVENTS, OneSpanProvider
from connector.ports.provider import (
    DocumentSpec,
    ProviderAuthError,
    ProviderNotFound,
    ProviderQuotaError,
    ProviderTransientError,
    ProviderValidationError,
    RequestRef,
    SignerAuth,
    SignerSpec,
    SigningRequestSpec,
    SigningState,
    WebhookRejected,
)
from connector.runtime.servers import serve_in_thread
from sandbox.onespan_sim import ActionRefused, OneSpanSimulator
from sandbox.onespan_sim.model import NEWER_EVENTS
from sandbox.pdfgen import text_pdf

API_KEY, HOOK_KEY = "sim-api-key", "hook-key-0123456789"
DANA, ELI = "dana@example.com", "eli@example.com"
QUOTE = text_pdf([["Quote Q-1"], ["Page two"]], title="Quote")
TERMS = text_pdf([["Terms"]], title="Terms")


@dataclass
class Receiver:
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    fail_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def receive(request: Request):
            body = await request.body()
            with self.lock:
                if self.fail_next:
                    self.fail_next -= 1
                    return PlainTextResponse("busy", status_code=503)
                self.received.append(({k.lower(): v for k, v in request.headers.items()}, body))
            return PlainTextResponse("", status_code=204)

        return Starlette(routes=[Route("/hook", receive, methods=["POST"])])


@dataclass
class World:
    sim: OneSpanSimulator
    url: str
    provider: OneSpanProvider
    receiver: Receiver
    hook: str

    def spec(self, *signers: SignerSpec, documents=None, external_id="job-1", **extra) -> SigningRequestSpec:
        documents = documents or (DocumentSpec("Quote Q-1", "quote.pdf", QUOTE),)
        signers = signers or (SignerSpec(DANA, "Dana", "Lee", 1),)
        return SigningRequestSpec(external_id=external_id, documents=documents, signers=signers,
                                  subject="Proposal for Acme", message="Please sign", callback_url=self.hook,
                                  expires_in_days=30, **extra)

    def events(self) -> list:
        self.sim.wait_for_deliveries(5)
        return [self.provider.parse_webhook(h, b) for h, b in self.receiver.received]

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Basic {API_KEY}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.url}/api{path}", headers=headers, timeout=5, **kwargs)


def _running():
    receiver = Receiver()
    hook_server = serve_in_thread(receiver.app())
    sim = OneSpanSimulator(api_key=API_KEY, callback_retry_delays=(0.05, 0.05))
    server = serve_in_thread(sim.app)
    sim.public_url = server.url
    provider = OneSpanProvider(api_key=API_KEY, base_url=server.url, callback_key=HOOK_KEY,
                               retry_wait_initial=0)
    yield World(sim, server.url, provider, receiver, f"{hook_server.url}/hook")
    sim.close()
    server.stop()
    hook_server.stop()


world = pytest.fixture(_running)
shared_world = pytest.fixture(scope="module")(_running)  # for checks that leave no state behind


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_sign_in_order_with_an_sms_step_then_signed_pdfs_and_evidence(world):
    spec = world.spec(SignerSpec(DANA, "Dana", "Lee", 1, "+15550100100", SignerAuth.SMS),
                      SignerSpec(ELI, "Eli", "Buyer", 2),
                      documents=(DocumentSpec("Quote Q-1", "quote.pdf", QUOTE),
                                 DocumentSpec("Terms", "t.pdf", TERMS)))
    ref = world.provider.create(spec)
    package = world.sim.package(ref.request_id)
    assert package["status"] == "SENT" and package["data"]["externalId"] == "job-1"
    assert [d["id"] for d in package["documents"]] == ["default-consent", "doc1", "doc2"]
    fields = [f for d in package["documents"][1:] for a in d["approvals"] for f in a["fields"]]
    assert {f["page"] for f in fields} == {0, 1}  # the last page of each document
    assert world.sim.reminder_schedule(ref.request_id)["reminders"]  # the schedule was set before sending
    assert [m["to"] for m in world.sim.outbox if m["kind"] == "invitation"] == [DANA]
    assert world.provider.get_status(ref).state == SigningState.SENT

    with pytest.raises(ActionRefused, match="SMS code"):
        world.sim.sign(ref.request_id, DANA)
    with pytest.raises(ActionRefused, match="wait for dana"):
        world.sim.sign(ref.request_id, ELI)
    code = world.sim.sms_code(ref.request_id, DANA)
    assert world.sim.enter_sms_code(ref.request_id, DANA, f"{(int(code) + 1) % 10**6:06d}") is False
    assert world.sim.enter_sms_code(ref.request_id, DANA, code) is True
    world.sim.view(ref.request_id, DANA)
    assert world.provider.get_status(ref).state == SigningState.VIEWED
    world.sim.sign(ref.request_id, DANA)
    partial = world.provider.get_status(ref)
    assert partial.state == SigningState.PARTIALLY_SIGNED
    assert [(s.email, s.signed) for s in partial.signers] == [(DANA, True), (ELI, False)]
    with pytest.raises(ProviderValidationError):
        world.provider.download_evidence(ref)
    world.sim.sign(ref.request_id, ELI)
    assert world.provider.get_status(ref).state == SigningState.COMPLETED

    signed = world.provider.download_signed(ref)
    assert [f.filename for f in signed] == ["Quote Q-1 - signed.pdf", "Terms - signed.pdf"]
    assert len(PdfReader(io.BytesIO(signed[0].content)).pages) == 3
    assert "Quote Q-1" in _text(signed[0].content) and "Signed by Eli Buyer" in _text(signed[1].content)
    evidence = world.provider.download_evidence(ref)
    assert "Evidence Summary" in _text(evidence.content) and ref.request_id in _text(evidence.content)

    events = world.events()
    assert {e.request_id for e in events} == {ref.request_id}
    kinds = [e.kind for e in events]
    assert kinds[0] == "PACKAGE_ACTIVATE" and kinds[-1] == "PACKAGE_COMPLETE"
    assert kinds.count("SIGNER_COMPLETE") == 2 and "DOCUMENT_SIGNED" in kinds
    assert events[-1].state_hint == SigningState.COMPLETED
    headers, body = world.receiver.received[-1]
    assert headers["authorization"] == f"Basic {HOOK_KEY}"
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(body)["@class"] == "com.silanis.esl.packages.event.ESLProcessEvent"
    assert json.loads(body)["sessionUser"] == "signer2"  # the last signer


def test_the_signing_page_with_sms_step_escaping_sign_and_decline(world):
    sms = SignerSpec(DANA, "<b>Dana</b>", "Lee", 1, "+15550100100", SignerAuth.SMS)
    ref = world.provider.create(world.spec(sms, SignerSpec(ELI, "Eli", "Buyer", 2)))
    eli_page = requests.get(world.sim.signing_url(ref.request_id, ELI), timeout=5).text
    assert "Waiting for dana@example.com" in eli_page
    url = world.sim.signing_url(ref.request_id, DANA)
    page = requests.get(url, timeout=5).text
    assert "&lt;b&gt;Dana&lt;/b&gt;" in page and "<b>Dana</b>" not in page
    code = re.search(r"would be <b>(\d{6})</b>", page).group(1)
    assert code == world.sim.sms_code(ref.request_id, DANA)
    assert requests.post(url, data={"action": "sign"}, timeout=5).status_code == 409  # no code yet
    assert requests.post(url, data={"action": "sms", "code": code}, timeout=5).status_code == 200
    ceremony = requests.get(url, timeout=5).text
    assert "Reason for declining" in ceremony and "Quote Q-1" in ceremony
    assert world.provider.get_status(ref).state == SigningState.VIEWED
    assert requests.post(url, data={"action": "sign"}, timeout=5).status_code == 200
    eli = world.sim.signing_url(ref.request_id, ELI)
    assert requests.post(eli, data={"action": "decline", "reason": ""}, timeout=5).status_code == 400
    declined = requests.post(eli, data={"action": "decline", "reason": "Price <too> high"}, timeout=5)
    assert declined.status_code == 200
    status = world.provider.get_status(ref)
    assert (status.state, status.declined_by, status.decline_reason) == (SigningState.DECLINED, ELI,
                                                                         "Price <too> high")
    finished = requests.get(url, timeout=5).text
    assert "Transaction: Declined by a signer <small class='code'>(DECLINED)</small>" in finished
    assert "There is nothing to sign." in finished


def test_decline_with_a_reason(world):
    ref = world.provider.create(world.spec(SignerSpec(DANA, "Dana", "Lee", 1), SignerSpec(ELI, "E", "B", 2)))
    with pytest.raises(ActionRefused, match="wait for"):
        world.sim.decline(ref.request_id, ELI, "Too early")
    world.sim.decline(ref.request_id, DANA, "Budget frozen until Q3")
    status = world.provider.get_status(ref)
    assert (status.state, status.declined_by, status.decline_reason) == (
        SigningState.DECLINED, DANA, "Budget frozen until Q3")
    assert [s.declined for s in status.signers] == [True, False]
    message = world.sim.package(ref.request_id)["messages"][0]
    assert message["content"] == "Budget frozen until Q3" and message["from"]["email"] == DANA
    world.events()
    decline = [json.loads(b) for _, b in world.receiver.received if b"PACKAGE_DECLINE" in b]
    assert decline[0]["message"] == "Budget frozen until Q3" and decline[0]["sessionUser"] == "signer1"
    with pytest.raises(ProviderValidationError):
        world.provider.download_signed(ref)


def test_expiry_by_the_helper_and_by_the_due_date_passing(world):
    ref = world.provider.create(world.spec())
    world.sim.expire(ref.request_id)
    assert world.provider.get_status(ref).state == SigningState.EXPIRED
    assert world.events()[-1].state_hint == SigningState.EXPIRED

    later = world.provider.create(world.spec(external_id="job-2"))
    world.sim.clock = lambda: time.time() + 31 * 86400
    assert world.provider.get_status(later).state == SigningState.EXPIRED
    with pytest.raises(ActionRefused, match="EXPIRED"):
        world.sim.sign(later.request_id, DANA)


def test_cancel_trashes_the_package(world):
    ref = world.provider.create(world.spec())
    world.provider.cancel(ref)
    package = world.sim.package(ref.request_id)
    assert (package["status"], package["trashed"]) == ("DRAFT", True)
    status = world.provider.get_status(ref)
    assert (status.state, status.provider_status) == (SigningState.CANCELLED, "DRAFT (trashed)")
    with pytest.raises(ActionRefused, match="trashed"):
        world.sim.sign(ref.request_id, DANA)
    last = world.events()[-1]
    assert (last.kind, last.state_hint) == ("PACKAGE_TRASH", SigningState.CANCELLED)


def test_reminders_and_find_after_a_crash_between_create_and_send(world, monkeypatch):
    ref = world.provider.create(world.spec(SignerSpec(DANA, "Dana", "Lee", 1), SignerSpec(ELI, "E", "B", 2)))
    world.provider.send_reminder(ref)
    assert world.sim.packages[ref.request_id].notifications == 1
    assert [m["to"] for m in world.sim.outbox if m["kind"] == "reminder"] == [DANA]

    def crash(*_args, **_kwargs):
        raise ProviderTransientError("OneSpan Sign", "connection reset")

    monkeypatch.setattr(world.provider, "_send", crash)
    with pytest.raises(ProviderTransientError):
        world.provider.create(world.spec(external_id="job-crash"))
    monkeypatch.undo()
    [draft] = [p for p in world.sim.packages() if p["data"]["externalId"] == "job-crash"]
    assert draft["status"] == "DRAFT"
    found = world.provider.find_by_external_id("job-crash")
    assert found is not None and found.request_id == draft["id"]
    assert world.sim.package(draft["id"])["status"] == "DRAFT"
    world.provider.resume(found)
    assert world.sim.package(draft["id"])["status"] == "SENT"
    assert world.sim.reminder_schedule(draft["id"])["repetitionsCount"] == 4
    assert world.provider.find_by_external_id("job-1") == ref
    assert world.provider.find_by_external_id("job-unknown") is None
    assert world.sim.create_calls == 2 and len(world.sim.packages()) == 2


def test_callbacks_are_retried_and_a_lost_one_is_kept_for_replay(world):
    world.receiver.fail_next = 1
    ref = world.provider.create(world.spec())
    world.sim.sign(ref.request_id, DANA)
    assert [e.kind for e in world.events()][0] == "PACKAGE_ACTIVATE"
    assert [d["attempt"] for d in world.sim.deliveries][:2] == [1, 2]
    assert world.sim.failed_callbacks() == []
    world.sim.sender.retry_delays = ()  # OneSpan's own behaviour: one attempt, then a failure e-mail
    world.receiver.fail_next = 1
    world.sim.expire(world.provider.create(world.spec(external_id="job-2")).request_id)
    world.sim.wait_for_deliveries(5)
    assert [b["name"] for b in world.sim.failed_callbacks()] == ["PACKAGE_ACTIVATE"]


def test_the_registration_names_only_events_the_server_accepts(world):
    refused = world.api("POST", "/callback", json={"url": world.hook, "events": ["PACKAGE_COMPLETE",
                                                                                "DOCUMENT_VIEWED"]})
    assert "DOCUMENT_VIEWED" in _is_error(refused, 400, "error.validation.callback.events")["message"]
    world.provider.create(world.spec())
    assert world.sim.callback["url"] == world.hook and "DOCUMENT_VIEWED" not in world.sim.callback["events"]
    assert world.api("GET", "/callback").json()["events"] == list(CALLBACK_EVENTS)


def test_an_account_refusing_the_registration_still_gets_its_requests_sent(caplog):
    sim = OneSpanSimulator(api_key=API_KEY, callback_events=frozenset({"PACKAGE_CREATE"}))
    server = serve_in_thread(sim.app)
    try:
        provider = OneSpanProvider(api_key=API_KEY, base_url=server.url, callback_key=HOOK_KEY,
                                   retry_wait_initial=0)
        spec = SigningRequestSpec(external_id="job-1", documents=(DocumentSpec("Q", "q.pdf", QUOTE),),
                                  signers=(SignerSpec(DANA, "Dana", "Lee", 1),), subject="S", message="M",
                                  callback_url="https://hooks.example/onespan")
        with caplog.at_level("WARNING", logger="adapters.onespan.adapter"):
            refs = [provider.create(spec), provider.create(spec)]
        assert [sim.package(r.request_id)["status"] for r in refs] == ["SENT", "SENT"]
        assert sim.callback["url"] is None  # nothing registered: status checks follow these requests
        assert sum("refused the callback configuration" in r.getMessage() for r in caplog.records) == 1
    finally:
        sim.close()
        server.stop()


def test_a_newer_server_takes_document_viewed(world):
    newer = OneSpanSimulator(api_key=API_KEY, callback_events=NEWER_EVENTS)
    assert "DOCUMENT_VIEWED" in newer.register_callback({"url": world.hook, "events": ["DOCUMENT_VIEWED"]})["events"]


def test_a_forged_or_unauthenticated_callback_is_refused(world):
    world.provider.create(world.spec())
    world.events()
    headers, body = world.receiver.received[0]
    for forged in ({**headers, "authorization": "Basic guessed"}, {k: v for k, v in headers.items()
                                                                    if k != "authorization"}):
        with pytest.raises(WebhookRejected) as refused:
            world.provider.parse_webhook(forged, body)
        assert refused.value.status_code == 401


# --- the simulator's strictness --------------------------------------------------------------

def _multipart(payload: dict, files=(("Quote", QUOTE),)):
    return [("payload", (None, json.dumps(payload), "text/plain; charset=UTF-8"))] + [
        ("file", (name, content, "application/pdf")) for name, content in files]


def _payload(**changes) -> dict:
    payload = {"name": "P", "roles": [{"id": "r1", "type": "SIGNER", "index": 1, "signers": [
        {"email": DANA, "firstName": "Dana", "lastName": "Lee"}]}], "documents": [
        {"name": "Quote", "approvals": [{"role": "r1", "fields": [
            {"type": "SIGNATURE", "page": 1, "top": 600, "left": 60, "width": 200, "height": 50}]}]}]}
    return {**payload, **changes}


def _is_error(response: requests.Response, code: int, key_prefix: str) -> dict:
    body = response.json()
    assert response.status_code == code and body["code"] == code, body
    assert body["messageKey"].startswith(key_prefix) and body["message"] and body["name"]
    return body


def test_the_api_key_is_required_as_basic_raw_key(world):
    _is_error(requests.get(f"{world.url}/api/packages", timeout=5), 401, "error.unauthorised")
    encoded = base64.b64encode(API_KEY.encode()).decode()
    encoded_key = {"Authorization": f"Basic {encoded}"}
    _is_error(requests.get(f"{world.url}/api/packages", headers=encoded_key, timeout=5), 401,
              "error.unauthorised")
    wrong = OneSpanProvider(api_key="wrong", base_url=world.url, callback_key=HOOK_KEY, retry_wait_initial=0)
    with pytest.raises(ProviderAuthError):
        wrong.create(world.spec())
    with pytest.raises(ProviderNotFound):
        world.provider.get_status(RequestRef("onespan", "nope"))


@pytest.mark.parametrize(("fields", "key"), [
    (_multipart(_payload(name="")), "error.validation.package.name"),
    (_multipart(_payload(status="COMPLETED")), "error.validation.package.status"),
    (_multipart(_payload(language="French")), "error.validation.package.language"),
    (_multipart(_payload(language=7)), "error.validation.package.language"),
    (_multipart(_payload(due="2001-01-01T00:00:00Z")), "error.validation.package.dueDateInPast"),
    (_multipart(_payload(documents=[{**_payload()["documents"][0], "name": "a/b"}])),
     "error.validation.document.name"),
    (_multipart(_payload(), files=()), "error.validation.document.missingFile"),
    (_multipart(_payload(), files=(("Quote", b"not a pdf"),)), "error.validation.document.invalidFile"),
    (_multipart(_payload(), files=(("Quote", QUOTE), ("Extra", QUOTE))),
     "error.validation.document.extraFile"),
    (_multipart(_payload(documents=[{"name": "Quote", "approvals": [{"role": "r1", "fields": [
        {"type": "SIGNATURE", "page": 2, "top": 0, "left": 0, "width": 200, "height": 50}]}]}])),
     "error.validation.field.page"),
    (_multipart(_payload(documents=[{"name": "Quote", "approvals": [{"role": "r1", "fields": [
        {"type": "SIGNATURE", "page": 0, "top": 990, "left": 0, "width": 200, "height": 50}]}]}])),
     "error.validation.invalidPageLocation"),
    (_multipart(_payload(documents=[{"name": "Quote", "approvals": [{"role": "zz", "fields": [
        {"type": "SIGNATURE", "page": 0, "top": 0, "left": 0, "width": 200, "height": 50}]}]}])),
     "error.validation.approval.role"),
    (_multipart(_payload(roles=[{"id": "r1", "signers": [{"email": DANA, "firstName": "D", "lastName": "L",
                                                           "auth": {"scheme": "SMS", "challenges": []}}]}])),
     "error.validation.auth.smsPhone"),
    ([("payload", (None, "{not json", "text/plain"))], "error.validation.invalidJson"),
    ([("file", ("Quote", QUOTE, "application/pdf"))], "error.validation.multipart"),
])
def test_bad_create_requests_get_the_400_error_shape(shared_world, fields, key):
    body, content_type = urllib3.encode_multipart_formdata(fields)
    response = shared_world.api("POST", "/packages", data=body, headers={"Content-Type": content_type})
    assert _is_error(response, 400, "error.validation")["messageKey"] == key
    assert shared_world.sim.packages() == []


def _field_create(world, pdf: bytes, **field) -> requests.Response:
    box = {"type": "SIGNATURE", "page": 0, "top": 0, "left": 0, "width": 200, "height": 50, **field}
    payload = _payload(documents=[{"name": "Quote", "approvals": [{"role": "r1", "fields": [box]}]}])
    body, content_type = urllib3.encode_multipart_formdata(_multipart(payload, files=(("Quote", pdf),)))
    return world.api("POST", "/packages", data=body, headers={"Content-Type": content_type})


def _page(width: float, height: float, rotate: int = 0) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width, height)
    if rotate:
        writer.pages[0].rotate(rotate)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(("pdf", "inside", "outside"), [
    # A Letter page is 796 x 1030 in field units (93.6 dpi), not 612 x 792 points.
    (_page(612, 792), {"top": 980, "left": 596}, {"top": 981, "left": 596}),
    (_page(612, 792), {"top": 0, "left": 596}, {"top": 0, "left": 597}),
    (_page(595.28, 841.89), {"top": 1044, "left": 574}, {"top": 1045, "left": 0}),  # A4: 774 x 1094
    (_page(612, 792, rotate=90), {"top": 746, "left": 830}, {"top": 747, "left": 0}),  # rendered 1030 x 796
])
def test_fields_are_checked_against_the_page_as_onespan_renders_it(shared_world, pdf, inside, outside):
    created = _field_create(shared_world, pdf, **inside)
    assert created.status_code == 200, created.text
    shared_world.sim.packages.clear()
    refused = _field_create(shared_world, pdf, **outside)
    assert _is_error(refused, 400, "error.validation") == {
        "code": 400, "messageKey": "error.validation.invalidPageLocation", "name": "Validation Error",
        "message": "Invalid position. Object placed outside of document page boundary.",
        "technical": "Invalid position. Object placed outside of document page boundary.",
        "parameters": {"approvalDataName": "", "documentName": "Quote"}}
    assert _is_error(_field_create(shared_world, pdf, top=-1), 400, "error.validation")["messageKey"] == \
        "error.validation.invalidPageLocation"
    assert shared_world.sim.packages() == []


@pytest.mark.parametrize("rotate", [0, 90, 180, 270])
def test_signatures_land_in_the_fields_the_adapter_placed(world, rotate):
    spec = world.spec(SignerSpec(DANA, "Dana", "Lee", 1), SignerSpec(ELI, "Eli", "Buyer", 1),
                      documents=(DocumentSpec("Quote", "q.pdf", _page(612, 792, rotate)),))
    ref = world.provider.create(spec)
    world.sim.sign(ref.request_id, DANA)
    world.sim.sign(ref.request_id, ELI)
    [signed] = world.provider.download_signed(ref)
    page = PdfReader(io.BytesIO(signed.content)).pages[0]
    stamps = [a.get_object() for a in page["/Annots"]]
    assert [s["/Contents"] for s in stamps] == ["Signed: Dana Lee", "Signed: Eli Buyer"]
    for stamp in stamps:
        x0, y0, x1, y1 = (float(v) for v in stamp["/Rect"])
        assert 0 <= x0 < x1 <= 612 and 0 <= y0 < y1 <= 792  # on the page, never off its edge
        # 200 x 50 units is 153.8 x 38.5 points, across the page as it is shown
        across, up = (x1 - x0, y1 - y0) if rotate in (0, 180) else (y1 - y0, x1 - x0)
        assert (round(across, 1), round(up, 1)) == (153.8, 38.5)
    # ...in the bottom margin of the page as shown: 60 units (46 points) above its lower edge
    lowest = {0: min(float(s["/Rect"][1]) for s in stamps), 180: 792 - max(float(s["/Rect"][3]) for s in stamps),
              90: 612 - max(float(s["/Rect"][2]) for s in stamps), 270: min(float(s["/Rect"][0]) for s in stamps)}
    assert 46 <= lowest[rotate] <= 47


def test_files_match_by_order_json_create_works_and_transitions_are_checked(world):
    fields = _multipart(_payload(), files=(("other.pdf", QUOTE),))  # no name match: matched by order
    body, content_type = urllib3.encode_multipart_formdata(fields)
    created = world.api("POST", "/packages", data=body, headers={"Content-Type": content_type})
    package_id = created.json()["id"]
    assert len(package_id) == 28 and package_id.endswith("=")
    document = world.sim.package(package_id)["documents"][1]
    assert len(document["id"]) == 48 and document["pages"] == 2
    encoded = base64.b64encode(QUOTE).decode()
    as_json = _payload(documents=[{**_payload()["documents"][0], "base64Content": encoded}])
    assert world.api("POST", "/packages", json=as_json).status_code == 200
    _is_error(world.api("POST", f"/packages/{package_id}", json={"status": "COMPLETED"}), 400,
              "error.validation")
    assert world.api("POST", f"/packages/{package_id}", json={"status": "SENT"}).status_code == 200
    _is_error(world.api("POST", f"/packages/{package_id}/reminders", json={
        "startInDaysDelay": 1, "intervalInDays": 1, "repetitionsCount": 1}), 400,
              "error.validation.reminders")
    _is_error(world.api("PUT", f"/packages/{package_id}", json={"name": "renamed"}), 400, "error.validation")
    _is_error(world.api("POST", "/callback", json={"url": "https://x.example", "events": ["NOPE"]}), 400,
              "error.validation.callback")
    _is_error(world.api("GET", "/packages", params={"query": "everything"}), 400, "error.validation.query")
    _is_error(world.api("GET", "/nothing/here"), 404, "error.notFound")
    _is_error(world.api("PATCH", f"/packages/{package_id}"), 405, "error")
    listed = world.api("GET", "/packages", params={"query": "SENT", "from": 1, "to": 5}).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == package_id
    assert world.api("GET", f"/packages/{package_id}/signingStatus").json() == {"status": "SIGNING_PENDING"}
    archive = zipfile.ZipFile(io.BytesIO(world.api("GET", f"/packages/{package_id}/documents/zip").content))
    assert sorted(archive.namelist()) == ["Electronic Disclosures and Signatures Consent.pdf", "Quote.pdf"]
    pdf = world.api("GET", f"/packages/{package_id}/documents/{document['id']}/pdf")
    assert pdf.headers["content-disposition"] == "attachment; filename*=UTF-8''Quote.pdf"


def test_an_exhausted_quota_is_a_quota_error(world):
    world.sim.package_quota = 1
    world.provider.create(world.spec())
    with pytest.raises(ProviderQuotaError, match="quota"):
        world.provider.create(world.spec(external_id="job-2"))


def test_the_rule_language_is_the_package_language(world):
    ref = world.provider.create(world.spec(language="nl"))
    [package] = [p for p in world.sim.packages() if p["id"] == ref.request_id]
    assert package["language"] == "nl"


def test_a_rules_reminder_schedule_is_given_to_the_package_and_kept_for_a_draft_left_by_a_crash(world, monkeypatch):
    ref = world.provider.create(world.spec(reminder_schedule=(3, 5)))
    expected = {"startInDaysDelay": 3, "intervalInDays": 3, "repetitionsCount": 5}
    assert {k: world.sim.reminder_schedule(ref.request_id)[k] for k in expected} == expected

    def crash(*_args, **_kwargs):
        raise ProviderTransientError("OneSpan Sign", "connection reset")

    monkeypatch.setattr(world.provider, "_send", crash)
    with pytest.raises(ProviderTransientError):
        world.provider.create(world.spec(external_id="job-crash", reminder_schedule=(1, 2)))
    monkeypatch.undo()
    found = world.provider.find_by_external_id("job-crash")
    world.provider.resume(found)
    schedule = world.sim.reminder_schedule(found.request_id)
    assert (schedule["startInDaysDelay"], schedule["intervalInDays"], schedule["repetitionsCount"]) == (1, 1, 2)
