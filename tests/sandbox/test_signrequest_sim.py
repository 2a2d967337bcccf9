"""The SignRequest simulator over plain HTTP: auth, DRF-style validation, signing order, authentic
callbacks with retries, expiring file links, sender actions, events and the signing pages."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import threading
import time

import pytest
import requests
from pypdf import PdfReader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from connector.runtime.servers import serve_in_thread
from sandbox.pdfgen import text_pdf
from sandbox.signrequest_sim import ActionRefused, SignRequestSimulator
from sandbox.signrequest_sim.callbacks import event_hash

TOKEN = "sim-token"
AUTH = {"Authorization": f"Token {TOKEN}"}
PDF = text_pdf([["Quote Q-1", "Total: 100 EUR"]])


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Receiver:
    """The daemon's webhook endpoint, as far as the simulator can tell."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.fail_next = 0
        self.lock = threading.Lock()

        async def receive(request: Request) -> PlainTextResponse:
            with self.lock:
                if self.fail_next:
                    self.fail_next -= 1
                    return PlainTextResponse("boom", status_code=500)
                self.events.append(await request.json())
            return PlainTextResponse("OK")

        self.app = Starlette(routes=[Route("/hook", receive, methods=["POST"])])

    def kinds(self) -> list[str]:
        return [e["event_type"] for e in self.events]


class Env:
    def __init__(self, sim: SignRequestSimulator, api: str, receiver: Receiver, callback: str, clock: Clock):
        self.sim, self.api, self.receiver, self.callback, self.clock = sim, api, receiver, callback, clock

    def post(self, path: str, body: dict | None = None) -> requests.Response:
        return requests.post(f"{self.api}{path}", json=body if body is not None else {}, headers=AUTH, timeout=5)

    def get(self, path: str, **params) -> requests.Response:
        return requests.get(f"{self.api}{path}", params=params, headers=AUTH, timeout=5)

    def quick_create(self, **extra) -> requests.Response:
        body = {"file_from_content": base64.b64encode(PDF).decode(), "file_from_content_name": "quote.pdf",
                "external_id": "job-9", "events_callback_url": self.callback, "who": "o", "subject": "Quote",
                "message": "Please sign", "signers": [{"email": "a@x.io", "first_name": "Ann", "order": 1},
                                                      {"email": "b@x.io", "order": 2}], **extra}
        return self.post("/signrequest-quick-create/", body)

    def document_uuid(self, **extra) -> str:
        created = self.quick_create(**extra)
        assert created.status_code == 201, created.text
        return created.json()["document"].rstrip("/").rsplit("/", 1)[-1]


@pytest.fixture
def env():
    clock = Clock()
    sim = SignRequestSimulator(api_token=TOKEN, callback_retry_delays=(0.05, 0.05, 0.05), clock=clock)
    server = serve_in_thread(sim.app)
    sim.public_url = server.url
    receiver = Receiver()
    hook = serve_in_thread(receiver.app)
    yield Env(sim, f"{server.url}/api/v1", receiver, f"{hook.url}/hook", clock)
    sim.close()
    hook.stop()
    server.stop()


def test_the_token_is_required_and_paths_end_with_a_slash(env):
    missing = requests.get(f"{env.api}/documents/", timeout=5)
    assert (missing.status_code, missing.json()) == (401, {"detail": "Authentication credentials were not provided."})
    wrong = requests.get(f"{env.api}/documents/", headers={"Authorization": "Token wrong"}, timeout=5)
    assert (wrong.status_code, wrong.json()) == (401, {"detail": "Invalid token."})
    assert wrong.headers["WWW-Authenticate"] == "Token"
    assert requests.get(f"{env.api}/documents", headers=AUTH, timeout=5).status_code == 404
    assert requests.post(f"{env.api}/signrequest-quick-create", json={}, headers=AUTH, timeout=5).status_code == 404
    assert requests.put(f"{env.api}/documents/", json={}, headers=AUTH, timeout=5).status_code == 405


def test_event_hash_matches_the_documented_test_vector():
    expected = "675ceef2ce146de8ba8d24ac878cdd1a0f5868b37dfe9e30699387eb18e17977"
    assert event_hash("YOUR_TOKEN_HERE", "1537889008", "converted") == expected


def test_quick_create_answers_the_flat_shape_and_lists_the_sender_first(env):
    created = env.quick_create()
    assert created.status_code == 201
    body = created.json()
    assert body["url"] == f"{env.api}/signrequests/{body['uuid']}/"
    assert body["document"].startswith(f"{env.api}/documents/")
    assert (body["external_id"], body["name"], body["who"], body["subject"]) == ("job-9", "quote.pdf", "o", "Quote")
    sender, ann, _ = body["signers"]
    assert (sender["email"], sender["order"], sender["needs_to_sign"]) == ("sender@sandbox.example", 0, False)
    assert (ann["display_name"], ann["signed"], ann["emailed"]) == ("Ann (a@x.io)", False, True)
    assert body["signers"][2]["emailed"] is False  # order 2 waits for order 1
    document = env.get(f"/documents/{body['document'].rstrip('/').rsplit('/', 1)[-1]}/").json()
    assert document["status"] == "se" and document["signrequest"]["uuid"] == body["uuid"]
    assert (document["sandbox"], document["processing"], document["api_used"]) == (True, False, True)
    assert document["pdf"] is None and document["signing_log"] is None and document["security_hash"] is None
    assert document["team"] == {"name": "Sandbox team", "subdomain": "sandbox", "url": f"{env.api}/teams/sandbox/"}
    assert env.sim.create_calls == 1


def test_two_step_create_answers_converting_then_sends(env):
    upload = requests.post(f"{env.api}/documents/", headers=AUTH, timeout=5, files={"file": ("q.pdf", PDF)},
                           data={"external_id": "two-step", "auto_expire_days": "30"})
    assert upload.status_code == 201, upload.text
    document = upload.json()
    assert (document["status"], document["signrequest"], document["auto_expire_days"]) == ("co", None, 30)
    assert env.get(f"/documents/{document['uuid']}/").json()["status"] == "ne"
    sent = env.post("/signrequests/", {"document": document["url"], "signers": [{"email": "c@x.io"}]})
    assert sent.status_code == 201 and sent.json()["document"] == document["url"]
    again = env.post("/signrequests/", {"document": document["url"], "signers": [{"email": "c@x.io"}]})
    assert again.status_code == 400 and list(again.json()) == ["document"]
    unknown = env.post("/signrequests/", {"document": "not-a-link", "signers": [{"email": "c@x.io"}]})
    assert unknown.json() == {"document": ["Invalid hyperlink - No URL match."]}
    assert env.get(f"/signrequests/{sent.json()['uuid']}/").json()["signers"][1]["email"] == "c@x.io"


def test_validation_errors_are_drf_field_maps(env):
    bad_signers = env.quick_create(signers=[{"order": 1}, {"email": "not-an-email", "language": "xx"},
                                            {"email": "c@x.io", "order": -1}])
    assert bad_signers.status_code == 400
    assert bad_signers.json() == {"signers": [
        {"email": ["This field is required."]},
        {"email": ["Enter a valid email address."], "language": ['"xx" is not a valid choice.']},
        {"order": ["Ensure this value is greater than or equal to 0."]}]}
    assert env.quick_create(subject="x" * 513).json() == {
        "subject": ["Ensure this field has no more than 512 characters."]}
    assert env.quick_create(who="everyone", auto_expire_days=731).json() == {
        "auto_expire_days": ["Ensure this value is less than or equal to 730."],
        "who": ['"everyone" is not a valid choice.']}
    assert env.quick_create(file_from_content_name=None).json() == {
        "file_from_content_name": ["This field is required."]}
    assert list(env.quick_create(file_from_url="https://example.org/q.pdf").json()) == ["non_field_errors"]
    unreachable = env.quick_create(file_from_content=None, file_from_url="https://example.org/q.pdf")
    assert list(unreachable.json()) == ["file_from_url"]
    no_signers = env.post("/signrequest-quick-create/", {"file_from_content": "JVBERg==",
                                                         "file_from_content_name": "q.pdf"})
    assert no_signers.json() == {"signers": ["This field is required."]}
    assert env.quick_create(from_email="intruder@elsewhere.example").status_code == 400
    not_json = requests.post(f"{env.api}/signrequest-quick-create/", data=b"{}", timeout=5,
                             headers={**AUTH, "Content-Type": "text/plain"})
    assert not_json.status_code == 415
    assert env.sim.create_calls == 0 and env.sim.documents() == []


def test_list_filters_by_external_id_and_pages_keep_the_filter(env):
    for _ in range(3):
        env.document_uuid()
    env.document_uuid(external_id="other")
    first = env.get("/documents/", external_id="job-9", limit=2).json()
    assert first["count"] == 3 and len(first["results"]) == 2 and first["previous"] is None
    assert "external_id=job-9" in first["next"] and "page=2" in first["next"]
    second = requests.get(first["next"], headers=AUTH, timeout=5).json()
    assert len(second["results"]) == 1 and second["next"] is None
    assert {d["external_id"] for d in first["results"] + second["results"]} == {"job-9"}
    assert env.get("/documents/", page=9).status_code == 404
    assert env.get("/documents/", status="zz").status_code == 400
    assert [d["uuid"] for d in env.sim.find_by_external_id("other")] == [env.sim.documents()[-1]["uuid"]]


def test_signing_order_then_an_authentic_signed_callback_with_matching_files(env):
    document = env.document_uuid()
    with pytest.raises(ActionRefused, match="must wait for a@x.io"):
        env.sim.sign(document, "b@x.io")
    env.sim.sign(document, "a@x.io")
    env.sim.sign(document, "b@x.io")
    with pytest.raises(ActionRefused, match="already signed"):
        env.sim.sign(document, "b@x.io")
    env.sim.wait_for_deliveries()
    assert env.receiver.kinds() == ["converted", "sent", "signer_viewed", "signer_signed", "signer_viewed",
                                    "signer_signed", "signed"]
    signed = env.receiver.events[-1]
    assert isinstance(signed["event_time"], str) and signed["token_name"] == "Token" and signed["signer"] is None
    expected = hmac.new(TOKEN.encode(), f"{signed['event_time']}signed".encode(), hashlib.sha256).hexdigest()
    assert signed["event_hash"] == expected
    assert signed["timestamp"].endswith("Z") and signed["document"]["status"] == "si"
    pdf = requests.get(signed["document"]["pdf"], timeout=5).content
    log = requests.get(signed["document"]["signing_log"]["pdf"], timeout=5).content
    assert hashlib.sha256(pdf).hexdigest() == signed["document"]["security_hash"]
    assert hashlib.sha256(log).hexdigest() == signed["document"]["signing_log"]["security_hash"]
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages]
    assert len(pages) == 2 and "Signed by Ann <a@x.io>" in pages[1]
    assert hashlib.sha256(PDF).hexdigest() in PdfReader(io.BytesIO(log)).pages[0].extract_text()
    assert env.receiver.events[3]["signer"]["email"] == "a@x.io"


def test_file_links_are_fresh_on_every_read_and_expire_after_five_minutes(env):
    document = env.document_uuid()
    link = env.sim.document(document)["file"]
    assert link != env.sim.document(document)["file"] and "/api/" not in link
    assert requests.get(link, timeout=5).content == PDF
    env.clock.now += 301
    assert requests.get(link, timeout=5).status_code == 403
    assert requests.get(env.sim.document(document)["file"], timeout=5).status_code == 200


def test_decline_keeps_the_reason_in_the_signers_message(env):
    document = env.document_uuid()
    with pytest.raises(ActionRefused):
        env.sim.decline(document, "b@x.io", "Not my turn")
    env.sim.decline(document, "a@x.io", "Too expensive")
    env.sim.wait_for_deliveries()
    declined = env.receiver.events[-1]
    assert (declined["event_type"], declined["signer"]["email"]) == ("declined", "a@x.io")
    ann = env.sim.document(document)["signrequest"]["signers"][1]
    assert (ann["declined"], ann["message"], env.sim.document(document)["status"]) == (True, "Too expensive", "de")
    with pytest.raises(ActionRefused, match="already declined"):
        env.sim.sign(document, "a@x.io")


def test_cancel_and_resend_only_while_unfinished(env):
    body = env.quick_create().json()
    assert env.post(f"/signrequests/{body['uuid']}/resend_signrequest_email/").json() == {"detail": "OK"}
    cancelled = env.post(f"/signrequests/{body['uuid']}/cancel_signrequest/")
    assert (cancelled.status_code, cancelled.json()) == (201, {"detail": "OK", "cancelled": True})
    again = env.post(f"/signrequests/{body['uuid']}/cancel_signrequest/")
    assert again.status_code == 400 and "already cancelled" in again.json()["detail"]
    assert env.post(f"/signrequests/{body['uuid']}/resend_signrequest_email/").status_code == 400
    assert env.post("/signrequests/00000000-0000-4000-8000-000000000000/cancel_signrequest/").status_code == 404
    document = env.sim.store.by_signrequest(body["uuid"])
    assert (document.status, document.reminders) == ("ca", 1)
    env.sim.wait_for_deliveries()
    assert env.receiver.kinds()[-1] == "cancelled"


def test_expire_by_hand_and_by_auto_expire_days(env):
    by_hand = env.document_uuid()
    env.sim.expire(by_hand)
    with pytest.raises(ActionRefused):
        env.sim.expire(by_hand)
    automatic = env.document_uuid(auto_expire_days=2)
    env.clock.now += 2 * 86400 + 1
    assert env.get(f"/documents/{automatic}/").json()["status"] == "xp"
    env.sim.wait_for_deliveries()
    assert env.receiver.kinds().count("expired") == 2
    expired = env.get("/events/", event_type="expired", document__uuid=automatic).json()
    assert expired["count"] == 1 and expired["results"][0]["delivered"] is True


def test_a_failed_callback_is_retried_until_the_receiver_answers_200(env):
    env.receiver.fail_next = 2
    env.document_uuid()
    env.sim.wait_for_deliveries()
    converted = [d for d in env.sim.deliveries if d["event_type"] == "converted"]
    assert [(d["status_code"], d["attempt"]) for d in converted] == [(500, 1), (500, 2), (200, 3)]
    assert env.receiver.kinds() == ["converted", "sent"]
    events = env.get("/events/", document__external_id="job-9").json()["results"]
    assert [(e["event_type"], e["callback_status_code"]) for e in events] == [("sent", 200), ("converted", 200)]


def test_signing_page_through_http(env):
    document = env.document_uuid(redirect_url="https://example.org/thanks")
    waiting = requests.get(env.sim.signing_url(document, "b@x.io"), timeout=5)
    assert "waiting for a@x.io to sign first" in waiting.text
    first = env.sim.signing_url(document, "a@x.io")
    page = requests.get(first, timeout=5).text
    assert "Type your full name to sign" in page and "Please sign" in page and "sender@sandbox.example" in page
    assert env.sim.document(document)["status"] == "vi"
    assert requests.post(first, data={"action": "sign", "full_name": " "}, timeout=5).status_code == 400
    done = requests.post(first, data={"action": "sign", "full_name": "Ann Archer"}, timeout=5)
    assert "You have signed" in done.text and "https://example.org/thanks" in done.text
    assert env.sim.document(document)["signrequest"]["signers"][1]["signed"] is True
    second = env.sim.signing_url(document, "b@x.io")
    assert requests.post(second, data={"action": "decline", "reason": ""}, timeout=5).status_code == 400
    declined = requests.post(second, data={"action": "decline", "reason": "<b>No</b>"}, timeout=5)
    assert declined.status_code == 200 and "&lt;b&gt;No&lt;/b&gt;" in declined.text
    assert env.sim.document(document)["status"] == "de"
    index = requests.get(f"{env.sim.public_url}/", timeout=5).text
    assert "quote.pdf" in index and "/sign/" in index
    assert requests.get(f"{env.sim.public_url}/sign/nonsense", timeout=5).status_code == 404
