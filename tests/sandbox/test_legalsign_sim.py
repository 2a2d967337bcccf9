"""The Legalsign adapter against the Legalesign simulator over HTTP, with callbacks to a receiver."""

from __future__ import annotations

import base64
import io
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests
from pypdf import PdfReader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import adapters.legalsign.adapter
from adapters.legalsign.adapter import LegalsignProvider
from connector.ports.provider import (
    DocumentSpec,
    ProviderRateLimited,
    ProviderTransientError,
    ProviderValidationError,
    SignerSpec,
    SigningRequestSpec,
    SigningState,
    WebhookEvent,
    WebhookRejected,
)
from connector.runtime.servers import serve_in_thread
from sandbox.legalsign_sim import ActionRefused, LegalsignSimulator
from sandbox.pdfgen import text_pdf

ANN, BOB = "ann@example.com", "bob@example.com"
PDF = text_pdf([["Quote Q-1", "500 widgets"], ["Terms"]])


@dataclass
class Receiver:
    """What the daemon's webhook server does: secret path first, then the adapter's parser."""

    provider: LegalsignProvider | None = None
    fail_next: int = 0
    events: list[WebhookEvent] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def receive(request: Request) -> PlainTextResponse:
            body = await request.body()
            with self.lock:
                if self.fail_next:
                    self.fail_next -= 1
                    return PlainTextResponse("busy", status_code=503)
                if not self.provider.accepts_path_token(request.path_params["token"]):
                    self.refused.append(404)
                    return PlainTextResponse("not found", status_code=404)
                try:
                    self.events.append(self.provider.parse_webhook(
                        {k.lower(): v for k, v in request.headers.items()}, body))
                except WebhookRejected as exc:
                    self.refused.append(exc.status_code)
                    return PlainTextResponse(exc.reason, status_code=exc.status_code)
            return PlainTextResponse("OK")

        return Starlette(routes=[Route("/webhooks/legalsign/{token}", receive, methods=["POST"])])


@dataclass
class World:
    sim: LegalsignSimulator
    api: str
    receiver: Receiver
    receiver_url: str
    provider: LegalsignProvider
    now: float

    def spec(self, *emails: str, external_id: str = "job-1", days: int | None = 30) -> SigningRequestSpec:
        signers = tuple(SignerSpec(e, e.split("@")[0].title(), "Tester", n) for n, e in enumerate(emails, start=1))
        return SigningRequestSpec(
            external_id=external_id, documents=(DocumentSpec("Quote Q-1", "quote.pdf", PDF),), signers=signers,
            subject="Please sign", message="Thanks", expires_in_days=days,
            callback_url=f"{self.receiver_url}{self.provider.callback_path()}")

    def settle(self) -> None:
        self.sim.wait_for_deliveries(5)
        time.sleep(0.05)


@pytest.fixture
def world() -> Iterator[World]:
    receiver = Receiver()
    receiver_server = serve_in_thread(receiver.app())
    sim = LegalsignSimulator(callback_retry_delays=(0.05, 0.05), allowed_recipients=[ANN, BOB, "cat@example.com"])
    server = serve_in_thread(sim.app)
    sim.public_url = server.url
    holder = {"now": time.time()}
    provider = LegalsignProvider(sim.username, sim.api_key, sim.group, f"{server.url}/api/v1", "test-callback-secret",
                                 [server.authority], require_https_downloads=False, clock=lambda: holder["now"],
                                 retry_wait_initial=0)
    receiver.provider = provider
    try:
        yield World(sim, f"{server.url}/api/v1", receiver, receiver_server.url, provider, holder["now"])
    finally:
        sim.close()
        server.stop()
        receiver_server.stop()


def test_two_signers_sign_in_order_then_signed_pdf_and_audit_log_are_real_pdfs(world):
    ref = world.provider.create(world.spec(ANN, BOB))
    assert world.provider.get_status(ref).state == SigningState.SENT
    with pytest.raises(ActionRefused, match="must wait"):
        world.sim.sign(ref.request_id, BOB)
    page = requests.get(world.sim.signing_url(ref.request_id, ANN), timeout=5)
    assert page.status_code == 200 and "Reject" in page.text
    assert world.provider.get_status(ref).state == SigningState.VIEWED
    assert requests.post(world.sim.signing_url(ref.request_id, ANN), data={"action": "sign"}, timeout=5).ok
    partial = world.provider.get_status(ref)
    assert partial.state == SigningState.PARTIALLY_SIGNED
    assert [(s.email, s.signed) for s in partial.signers] == [(ANN, True), (BOB, False)]
    world.sim.sign(ref.request_id, BOB)
    assert world.provider.get_status(ref).state == SigningState.COMPLETED
    [signed] = world.provider.download_signed(ref)
    pages = PdfReader(io.BytesIO(signed.content)).pages
    assert len(pages) == 3 and "certificate" in pages[-1].extract_text()
    evidence = world.provider.download_evidence(ref)
    text = PdfReader(io.BytesIO(evidence.content)).pages[0].extract_text()
    assert "Audit log" in text and f"Signed by {ANN}" in text and f"Signed by {BOB}" in text
    world.settle()
    assert [e.kind for e in world.receiver.events] == [
        "document.created", "recipient.visiting", "recipient.completed", "recipient.completed",
        "document.finalPdfCreated"]
    assert {(e.request_id, e.external_id) for e in world.receiver.events} == {(ref.request_id, "job-1")}
    assert world.receiver.events[-1].state_hint == SigningState.COMPLETED and not world.receiver.refused


def test_rejection_through_the_page_carries_who_and_why(world):
    ref = world.provider.create(world.spec(ANN, BOB))
    url = world.sim.signing_url(ref.request_id, ANN)
    assert requests.post(url, data={"action": "reject", "reason": "Wrong <b>amount</b>"}, timeout=5).ok
    status = world.provider.get_status(ref)
    assert (status.state, status.declined_by, status.decline_reason) == (
        SigningState.DECLINED, ANN, "Wrong <b>amount</b>")
    assert "Wrong" not in requests.get(url, timeout=5).text  # the page no longer offers anything
    world.settle()
    assert [e.kind for e in world.receiver.events][-2:] == ["recipient.rejected", "document.rejected"]


def test_a_passed_deadline_is_expired_and_signing_is_refused(world):
    ref = world.provider.create(world.spec(ANN, days=3))
    world.sim.expire(ref.request_id)
    with pytest.raises(ActionRefused, match="deadline"):
        world.sim.sign(ref.request_id, ANN)
    world.provider.clock = lambda: world.now + 4 * 86400
    assert world.provider.get_status(ref).state == SigningState.EXPIRED


def test_cancel_voids_once_and_is_safe_to_repeat(world):
    ref = world.provider.create(world.spec(ANN))
    world.provider.cancel(ref)
    world.provider.cancel(ref)
    assert world.provider.get_status(ref).state == SigningState.CANCELLED
    assert world.sim.document(ref.request_id).void_notified
    with pytest.raises(ActionRefused, match="finished"):
        world.sim.sign(ref.request_id, ANN)
    signed = world.provider.create(world.spec(BOB, external_id="job-2"))
    world.sim.sign(signed.request_id, BOB)
    with pytest.raises(ProviderValidationError, match="no longer be voided"):
        world.provider.cancel(signed)


def test_reminders_reach_only_the_signer_whose_turn_it_is(world):
    ref = world.provider.create(world.spec(ANN, BOB))
    world.provider.send_reminder(ref)
    assert [s.reminders for s in world.sim.document(ref.request_id).signers] == [1, 0]


def test_find_by_external_id_pages_through_the_group(world, monkeypatch):
    monkeypatch.setattr(adapters.legalsign.adapter, "_PAGE_SIZE", 2)
    refs = [world.provider.create(world.spec(ANN, external_id=f"job-{n}")) for n in range(5)]
    assert world.provider.find_by_external_id("job-0") == refs[0]
    assert world.provider.find_by_external_id("job-4") == refs[4]
    assert world.provider.find_by_external_id("job-9") is None


def test_the_callback_is_registered_once_even_across_restarts(world):
    world.provider.create(world.spec(ANN))
    world.provider.create(world.spec(BOB, external_id="job-2"))
    restarted = LegalsignProvider(world.sim.username, world.sim.api_key, world.sim.group, world.api,
                                  "test-callback-secret", ["127.0.0.1"], require_https_downloads=False)
    restarted.create(world.spec(ANN, external_id="job-3"))
    assert len(world.sim.webhooks) == 1 and world.sim.webhooks[0]["group"] == world.sim.group


def test_callbacks_are_retried_in_order_and_refused_off_the_secret_path(world):
    world.receiver.fail_next = 1
    ref = world.provider.create(world.spec(ANN))
    world.sim.sign(ref.request_id, ANN)
    world.settle()
    created = [d for d in world.sim.deliveries if d["event_type"] == "document.created"]
    assert [(d["attempt"], d["status_code"]) for d in created] == [(1, 503), (2, 200)]
    assert [e.kind for e in world.receiver.events] == [
        "document.created", "recipient.completed", "document.finalPdfCreated"]
    stolen = requests.post(f"{world.receiver_url}/webhooks/legalsign/guessed", json={}, timeout=5)
    assert stolen.status_code == 404


def test_redirected_and_archived_downloads(world):
    ref = world.provider.create(world.spec(ANN))
    world.sim.sign(ref.request_id, ANN)
    world.sim.pdf_delivery = "redirect"
    assert world.provider.download_signed(ref)[0].content.startswith(b"%PDF")
    world.sim.pdf_delivery = "restoring"
    with pytest.raises(ProviderTransientError, match="restored"):
        world.provider.download_signed(ref)


def test_sandbox_recipients_and_throttle(world):
    with pytest.raises(ProviderValidationError, match="whitelisted"):
        world.provider.create(world.spec("stranger@example.com"))
    world.sim.rate_limit_per_minute = 0
    with pytest.raises(ProviderRateLimited):
        world.provider.find_by_external_id("job-1")


AUTH = {"Authorization": "ApiKey sandbox-user:sandbox-legalsign-key"}


def test_bad_credentials_get_tastypies_empty_401(world):
    for header in ("ApiKey sandbox-user:wrong", "Bearer sandbox-legalsign-key", "ApiKey sandbox-legalsign-key", ""):
        answer = requests.get(f"{world.api}/document/?group=sandbox-group", headers={"Authorization": header},
                              timeout=5)
        assert (answer.status_code, answer.content) == (401, b"")


def test_bad_bodies_get_the_documented_status_and_shape(world):
    def post(path: str, **kwargs) -> requests.Response:
        return requests.post(f"{world.api}{path}", headers=AUTH, timeout=5, **kwargs)

    missing = post("/document/", json={"group": "/api/v1/group/sandbox-group/"})
    assert missing.status_code == 400
    assert missing.json() == {"document": {k: ["This field is required."] for k in ("name", "templatepdf", "signers")}}
    upload = post("/templatepdf/", json={"group": "/api/v1/group/sandbox-group/",
                                         "pdf_file": base64.b64encode(PDF).decode()})
    template = upload.headers["Location"].split("/")[-2]
    assert upload.status_code == 201 and upload.headers["Location"].startswith(world.api)
    unfielded = post("/document/", json={
        "group": "/api/v1/group/sandbox-group/", "name": "X", "templatepdf": f"/api/v1/templatepdf/{template}/",
        "signers": [{"firstname": "Ann", "lastname": "T", "email": ANN}]})
    assert unfielded.status_code == 400 and "templatepdf" in unfielded.json()["document"]
    bad_signer = post("/document/", json={
        "group": "/api/v1/group/sandbox-group/", "name": "X", "templatepdf": f"/api/v1/templatepdf/{template}/",
        "signers": [{"firstname": "Ann<script>", "lastname": "T", "email": "not-an-email", "sms": "0612"}]})
    assert set(bad_signer.json()["document"]["signers"]["0"]) == {"firstname", "email", "sms"}
    unparseable = post("/document/", data=b"{nope")
    assert unparseable.status_code == 500  # Legalesign: "usually unparseable JSON, or mis-referenced object"
    ghost = post("/document/", json={
        "group": "/api/v1/group/sandbox-group/", "name": "X", "templatepdf": "/api/v1/templatepdf/nope/",
        "signers": [{"firstname": "Ann", "lastname": "T", "email": ANN}]})
    assert ghost.status_code == 500
    fields = post(f"/templatepdf/{template}/fields/", json=[{"ax": 0.5, "ay": 0.1, "bx": 0.2, "by": 0.2,
                                                             "element_type": "signature", "page": 9, "signer": 1}])
    assert fields.status_code == 400 and set(fields.json()["fields"]["0"]) == {"bx", "page"}
    unknown = requests.get(f"{world.api}/document/00000000-0000-4000-8000-000000000000/", headers=AUTH, timeout=5)
    assert (unknown.status_code, unknown.content) == (404, b"")
    no_group = requests.get(f"{world.api}/document/", headers=AUTH, timeout=5)
    assert no_group.status_code == 400


def test_signer_links_resources_and_webhook_list(world):
    ref = world.provider.create(world.spec(ANN, BOB))
    detail = requests.get(f"{world.api}/document/{ref.request_id}/", headers=AUTH, timeout=5).json()
    assert [row[3] for row in detail["signers"]] == [ANN, BOB] and detail["signers_in_order"] is True
    first = detail["signer_objects"][0]["uuid"]
    signer = requests.get(f"{world.api}/signer/{first}/", headers=AUTH, timeout=5).json()
    assert (signer["first_name"], signer["status"], signer["order"]) == ("Ann", 10, 0)
    link = requests.get(f"{world.api}/signer/{first}/new-link/", headers=AUTH, timeout=5, allow_redirects=False)
    assert link.status_code == 201 and "/sandbox/esign/" in link.headers["Location"]
    status = requests.get(f"{world.api}/status/{ref.request_id}/", headers=AUTH, timeout=5).json()
    assert (status["status"], status["tag"], status["download_final"]) == (10, "job-1", False)
    [hook] = requests.get(f"{world.api}/notifications/", headers=AUTH, timeout=5).json()
    assert (hook["notify_when"], hook["url"]) == (10, f"{world.receiver_url}{world.provider.callback_path()}")


def test_new_link_is_fresh_each_time_and_opens_the_signers_page_once(world):
    ref = world.provider.create(world.spec(ANN, BOB))
    first = world.sim.document(ref.request_id).signers[0].uuid
    links = [requests.get(f"{world.api}/signer/{first}/new-link/", headers=AUTH, timeout=5,
                          allow_redirects=False).headers["Location"] for _ in range(2)]
    assert links[0] != links[1]
    opened = requests.get(links[0], timeout=5)
    assert opened.status_code == 200 and f"Signer: {ANN}" in opened.text
    again = requests.get(links[0], timeout=5)
    assert again.status_code == 404 and "has been used already" in again.text
    assert requests.get(links[1], timeout=5).status_code == 200
