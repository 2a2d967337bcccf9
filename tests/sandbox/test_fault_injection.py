"""The simulators' fault injection itself: the SPEC text, seeded draws, the wire form of each HTTP fault,
Salesforce's session expiry and limit bodies, and what happens to callbacks on their way out."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from connector.admin.cli import main
from connector.runtime.servers import serve_in_thread
from sandbox import faultspec
from sandbox.callbacks import CallbackSender
from sandbox.cli import SANDBOX_COMMAND
from sandbox.faults import Faults
from sandbox.legalsign_sim import LegalsignSimulator
from sandbox.onespan_sim import OneSpanSimulator
from sandbox.runner import injected_faults, start_simulators
from sandbox.salesforce_sim import SalesforceSimulator
from sandbox.signrequest_sim import SignRequestSimulator

SR_AUTH = {"Authorization": "Token sandbox-signrequest-token"}
EXAMPLE = ("seed=7; signrequest POST /api/v1/signrequest-quick-create/: 5xx=0.05 429=0.05 timeout=0.02 reset=0.02 "
           "hold=3; salesforce: session_expiry_every=100 limit_exceeded=0.01; onespan /api/*: 5xx=0.1 times=4; "
           "legalsign webhooks document.*: drop=0.1 duplicate=0.2 delay_seconds=2")


@pytest.fixture
def signrequest():
    sim = SignRequestSimulator()
    server = serve_in_thread(sim.app)
    yield sim, server.url
    server.stop()
    sim.close()


def test_the_spec_installs_each_clause_on_its_simulator():
    sims = {"salesforce": SalesforceSimulator(), "signrequest": SignRequestSimulator(),
            "onespan": OneSpanSimulator(), "legalsign": LegalsignSimulator()}
    plan = faultspec.apply(EXAMPLE, sims)

    assert plan.seed == "7"
    [create] = sims["signrequest"].faults.http_rules
    assert (create.method, create.path, create.rates, create.hold_seconds) == (
        "POST", "/api/v1/signrequest-quick-create/", {"5xx": 0.05, "429": 0.05, "timeout": 0.02, "reset": 0.02}, 3.0)
    salesforce = sims["salesforce"].faults
    assert (salesforce.session_expiry_every, salesforce.limit_exceeded_rate, salesforce.http_rules) == (100, 0.01, [])
    [onespan] = sims["onespan"].faults.http_rules
    assert (onespan.method, onespan.path, onespan.times) == ("*", "/api/*", 4)
    [hooks] = sims["legalsign"].faults.webhook_rules
    assert (hooks.events, hooks.rates, hooks.delay_seconds) == ("document.*", {"drop": 0.1, "duplicate": 0.2}, 2.0)
    for name in ("signrequest", "onespan", "legalsign"):
        sims[name].close()


@pytest.mark.parametrize(("spec", "problem"), [
    ("docusign: 5xx=0.1", "the simulator must be one of"),
    ("signrequest /api/v1/documents/: 503=0.1", "unknown setting '503=0.1'"),
    ("signrequest: 5xx=1.5", "5xx is a share of calls between 0 and 1"),
    ("onespan: session_expiry_every=3", "unknown setting"),  # Salesforce only
    ("signrequest webhooks: drop=lots", "drop needs a number"),
    ("signrequest 5xx=0.1", "expected 'SIMULATOR [METHOD] [PATH]: KEY=VALUE"),
    ("seed=1; legalsign POST /a /b: reset=0.1", "fault clause 2"),
])
def test_a_bad_spec_is_refused_naming_the_clause_and_the_problem(spec, problem):
    with pytest.raises(faultspec.FaultSpecError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        faultspec.parse(spec)


def test_rates_adding_up_to_more_than_one_are_refused():
    with pytest.raises(faultspec.FaultSpecError, match="add up to at most 1"):
        faultspec.apply("signrequest: 5xx=0.6 429=0.6", {"signrequest": SignRequestSimulator()})


def test_the_sandbox_command_refuses_a_bad_spec_with_exit_code_2(capsys):
    assert main(["sandbox", "--faults", "signrequest: 5xx=2"], extra=[SANDBOX_COMMAND]) == 2
    assert "--faults: fault clause 1" in capsys.readouterr().err


def test_the_same_seed_draws_the_same_faults_and_another_seed_others():
    def fates(seed: str) -> list[str | None]:
        faults = Faults("signrequest", seed=seed)
        faults.add_http("*", server_error=0.3, reset=0.2)
        return [(hit[1] if (hit := faults.http_fault("GET", f"/api/v1/documents/{n}/")) else None) for n in range(200)]

    assert fates("1") == fates("1")
    assert fates("1") != fates("2")
    kinds = fates("1")
    assert 40 <= kinds.count("5xx") <= 80 and 20 <= kinds.count("reset") <= 60


def test_5xx_and_429_answer_before_the_call_takes_effect_and_are_counted(signrequest):
    sim, url = signrequest
    sim.faults.add_http("POST /api/v1/documents/", server_error=1.0, times=1)
    sim.faults.add_http("/api/v1/documents/", throttle=1.0, times=1, retry_after=7)

    failed = requests.post(f"{url}/api/v1/documents/", json={}, headers=SR_AUTH, timeout=5)
    throttled = requests.post(f"{url}/api/v1/documents/", json={}, headers=SR_AUTH, timeout=5)
    normal = requests.post(f"{url}/api/v1/documents/", json={}, headers=SR_AUTH, timeout=5)

    assert failed.status_code == 503
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "7")
    assert normal.status_code == 400  # the real validation answer: both rules are used up
    assert sim.faults.counts() == {"5xx": 1, "429": 1}
    assert [kind for _, kind, _ in sim.faults.log] == ["5xx", "429"]


def test_a_reset_closes_the_connection_without_a_reply_after_the_call_took_effect(signrequest):
    sim, url = signrequest
    sim.faults.add_http("DELETE /api/v1/documents/*", reset=1.0)
    document = sim.create_document({"file_from_content": "JVBERi0=", "file_from_content_name": "a.pdf"})

    with pytest.raises(requests.ConnectionError):
        requests.delete(f"{url}/api/v1/documents/{document['uuid']}/", headers=SR_AUTH, timeout=5)

    assert sim.documents() == []  # deleted; only the answer was lost


def test_a_timeout_holds_the_reply_past_the_clients_patience_after_the_call_took_effect(signrequest):
    sim, url = signrequest
    sim.faults.add_http("POST /api/v1/documents/", timeout=1.0, hold_seconds=2)

    with pytest.raises(requests.ReadTimeout):
        requests.post(f"{url}/api/v1/documents/", headers=SR_AUTH, timeout=0.5,
                      json={"file_from_content": "JVBERi0=", "file_from_content_name": "a.pdf"})

    assert len(sim.documents()) == 1 and sim.faults.counts() == {"timeout": 1}


def test_salesforce_expires_sessions_every_n_calls_with_the_real_401_body():
    sim = SalesforceSimulator()
    server = serve_in_thread(sim.app)
    try:
        token = sim.sessions.issue()
        headers = {"Authorization": f"Bearer {token}"}
        sim.faults.expire_sessions_every(3)
        answers = [requests.get(f"{server.url}/services/data/v59.0/limits", headers=headers, timeout=5)
                   for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 401, 401]  # expired on the 3rd and stays so
        assert answers[2].json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]

        fresh = {"Authorization": f"Bearer {sim.sessions.issue()}"}
        sim.faults.exceed_limit(exhausted=True)
        refused = requests.get(f"{server.url}/services/data/v59.0/limits", headers=fresh, timeout=5)
        assert refused.status_code == 403
        assert refused.json() == [{"message": "TotalRequests Limit exceeded. Limit: 15000",
                                   "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
        assert sim.faults.counts() == {"session_expired": 1, "limit_exceeded": 1}
    finally:
        server.stop()


class _Hook:
    def __init__(self) -> None:
        self.received: list[str] = []
        self.lock = threading.Lock()

        async def receive(request: Request) -> PlainTextResponse:
            with self.lock:
                self.received.append((await request.json())["n"])
            return PlainTextResponse("OK")

        self.server = serve_in_thread(Starlette(routes=[Route("/hook", receive, methods=["POST"])]))
        self.url = f"{self.server.url}/hook"


@pytest.fixture
def hook():
    receiver = _Hook()
    yield receiver
    receiver.server.stop()


def _post(sender: CallbackSender, url: str, event_type: str, n: str) -> None:
    sender.send(url, lambda: {"n": n}, event_type, n)


def test_callbacks_are_dropped_duplicated_and_reordered_as_told(hook):
    faults = Faults("signrequest")
    faults.add_webhooks("lost", drop=1.0)
    faults.add_webhooks("twice", duplicate=1.0)
    faults.add_webhooks("overtaken", reorder=1.0)
    sender = CallbackSender((), faults=faults)
    try:
        for event_type, n in [("plain", "1"), ("lost", "2"), ("twice", "3"), ("overtaken", "4"), ("plain", "5")]:
            _post(sender, hook.url, event_type, n)
        sender.wait(5)
        assert hook.received == ["1", "3", "3", "5", "4"]
        assert faults.counts() == {"drop": 1, "duplicate": 1, "reorder": 1}
    finally:
        sender.close()


def test_a_delayed_callback_arrives_after_later_ones_and_a_held_one_goes_out_alone_in_the_end(hook):
    faults = Faults("onespan")
    faults.add_webhooks("late", delay=1.0, delay_seconds=0.5)
    faults.add_webhooks("last", reorder=1.0)
    sender = CallbackSender((), faults=faults, reorder_wait=0.5)
    try:
        _post(sender, hook.url, "late", "1")
        _post(sender, hook.url, "plain", "2")
        _post(sender, hook.url, "last", "3")  # nothing follows it
        deadline = time.monotonic() + 5
        while len(hook.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hook.received[0] == "2" and sorted(hook.received) == ["1", "2", "3"]
    finally:
        sender.close()


def test_the_sandbox_runner_installs_the_plan_and_reports_what_was_injected(tmp_path):
    sandbox = start_simulators(tmp_path, webhook_port=0, seed=False,
                               faults="seed=3; legalsign GET /api/v1/document/: 429=1 retry_after=2")
    try:
        answer = requests.get(f"{sandbox.legalsign_server.url}/api/v1/document/", timeout=5)
        assert (answer.status_code, answer.headers["Retry-After"]) == (429, "2")
        assert sandbox.legalsign.faults.seed == "3"
        assert injected_faults(sandbox) == {"legalsign": {"429": 1}}
    finally:
        sandbox.stop()


def test_change_event_faults_are_drawn_per_event_and_counted():
    sim = SalesforceSimulator()
    faultspec.apply("seed=3; salesforce pubsub: gap=0.3 overflow=0.2 duplicate=0.3 drop=0.5 retention_seconds=60",
                    {"salesforce": sim})
    assert sim.bus.retention_seconds == 60
    generation = sim.bus.generation
    for n in range(40):
        sim.create_record("Opportunity", {"Name": f"Event {n}", "StageName": "Qualification",
                                          "CloseDate": "2026-12-31"})
    injected = sim.bus.injected
    assert set(injected) == {"gap", "overflow", "duplicate", "drop"}
    assert len(sim.bus.events) == 40 + injected["duplicate"]
    assert sim.bus.generation - generation == injected["drop"]


@pytest.mark.parametrize(("spec", "problem"), [
    ("signrequest pubsub: gap=0.1", "'pubsub' faults are 'salesforce pubsub"),
    ("salesforce pubsub: gap=2", "gap is a share of calls between 0 and 1"),
    ("salesforce pubsub: stall=0.1", "unknown setting 'stall=0.1'"),
])
def test_a_bad_change_event_fault_is_refused(spec, problem):
    with pytest.raises(faultspec.FaultSpecError, match=problem):
        faultspec.parse(spec)
