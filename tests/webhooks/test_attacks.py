"""Attacks on each provider's callback endpoint, through the real app, adapter and store.

Each attack is answered with a 4xx and leaves the store as it was: no event recorded, no job woken,
no job changed. Some cases answer 200 on purpose, and say why where they are tested: a redelivery of
an event already recorded, an authentic event for a request no job knows, an authentic event dated
outside the replay window (late or replayed: a hint only), and a flood past the caps on stored events.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from connector.inbound.dispatcher import EventDispatcher
from connector.inbound.webhooks import build_webhook_app
from connector.store import EventCaps, JobState, RequestState, Store
from connector.store.models import EventRow
from tests.webhooks.kits import KITS, MAX_BODY, NOW, Callback, webhook_server

KNOWN_REQUEST = "KnownRequest0001"


@pytest.fixture(params=sorted(KITS))
def server(request, store_url):
    store = Store(store_url)
    store.migrate()
    job = store.create_job(entry_key="rule:006:Contract Sent:t", rule_id="rule", rule={}, provider=request.param,
                           opportunity_id="006000000000001AAA", opportunity={})
    job.state, job.request_id = JobState.AWAITING, KNOWN_REQUEST
    job.request = RequestState(provider=request.param, request_id=KNOWN_REQUEST)
    job.next_run_at = store.now() + timedelta(minutes=30)
    store.save_job(job, release=True)
    yield webhook_server(KITS[request.param](), store)
    store.close()


def snapshot(store: Store) -> tuple:
    """Everything a callback could change: every job field and every recorded event."""
    jobs = [tuple(sorted(vars(job).items())) for job in store.list_jobs()]
    with store._tx() as session:
        events = [(e.provider, e.event_id, e.request_id, e.kind, e.processed_at, e.disposition)
                  for e in session.scalars(select(EventRow))]
    return jobs, events


def assert_refused(server, callback: Callback, status: int) -> None:
    before = snapshot(server.store)
    response = server.post(callback)
    assert response.status_code == status, response.text
    assert snapshot(server.store) == before
    assert server.woken == []


def test_an_authentic_callback_is_recorded_and_wakes_the_worker(server):
    """The baseline every attack below departs from by one thing."""
    response = server.post(server.kit.make(KNOWN_REQUEST))
    assert (response.status_code, response.text) == (200, "OK")
    [event] = server.store.unprocessed_events()
    assert (event.provider, event.request_id) == (server.kit.name, KNOWN_REQUEST)
    assert server.woken == [1]


def test_a_forged_credential_is_refused(server):
    # SignRequest: an event_hash under a guessed token (401); OneSpan: a guessed callback key (401);
    # Legalsign: a path derived from a guessed secret, indistinguishable from no route (404).
    status = 404 if server.kit.name == "legalsign" else 401
    assert_refused(server, server.kit.forge(server.kit.make(KNOWN_REQUEST)), status)


def test_no_credential_at_all_is_refused(server):
    callback = server.kit.make(KNOWN_REQUEST)
    if server.kit.name == "signrequest":
        callback.body = callback.body.replace(b'"event_hash"', b'"not_the_hash"')
        status = 400
    elif server.kit.name == "onespan":
        callback.headers = {k: v for k, v in callback.headers.items() if k != "Authorization"}
        status = 401
    else:
        callback.path = "/webhooks/legalsign"
        status = 404
    assert_refused(server, callback, status)


INFORMATIONAL = {"signrequest": {"event_type": "signer_viewed"}, "onespan": {"name": "SIGNER_COMPLETE"},
                 "legalsign": {"event": "document.created"}}


@pytest.mark.parametrize("age", [-3600, 901, 86_400 * 30])
def test_a_late_or_replayed_callback_only_wakes_a_status_check_at_most_once_an_interval(server, age):
    """An authentic callback dated outside the replay window: a provider's retry after an outage, or a capture
    sent again later (or dated ahead). Refusing it would lose a late delivery for good; it is kept as a hint
    that wakes its job's status check like any event (the check, not the event, tells what happened), and
    sent again with fresh ids it wakes the job no more than once per interval."""
    store, interval = server.store, timedelta(seconds=60)
    dispatcher = EventDispatcher(store=store, clock=store.now, orphan_grace=timedelta(minutes=10),
                                 wake_interval=interval)
    [job] = store.list_jobs()
    for n in range(3):
        fresh = {"sessionUser": f"user{n}"} if server.kit.name == "onespan" else {}
        assert server.post(server.kit.make(KNOWN_REQUEST, at=NOW - age, **fresh)).status_code == 200
        dispatcher.dispatch()
        woken = store.get_job(job.id)
        if n == 0:
            assert woken.next_run_at <= store.now()  # woken at once: its status is checked
            [claimed] = store.claim_due_jobs("worker")  # ...and planned again half an hour on
            claimed.next_run_at = store.now() + timedelta(minutes=30)
            store.save_job(claimed, release=True)
            checked_at = store.now()
        else:
            assert checked_at + interval - timedelta(seconds=1) <= woken.next_run_at <= checked_at + interval
    assert store.count_events() == {"matched": 3}


def test_a_late_callback_that_could_not_end_a_request_is_not_kept(server):
    late = server.kit.make(KNOWN_REQUEST, at=NOW - 901, **INFORMATIONAL[server.kit.name])
    before = snapshot(server.store)
    assert server.post(late).status_code == 200
    assert snapshot(server.store) == before


def test_a_flood_of_replays_with_fresh_ids_stores_no_more_than_the_caps(server):
    """A captured callback sent again and again with new event ids (SignRequest signs only the event time and
    type, so a capture can be given any event and document id while its time is fresh): each answered 200, as
    an authentic callback is, but a job, a request and all unknown requests together keep only so many."""
    flooded = webhook_server(server.kit, server.store, EventCaps(per_request=5, unmatched=12))
    for n in range(20):
        # OneSpan has no event id: its id is derived from the body, so the replays vary the session user.
        fresh = {"sessionUser": f"user{n}"} if server.kit.name == "onespan" else {}
        for request_id in (KNOWN_REQUEST, "SomeoneElsesRequest", f"RandomRequest{n:04d}"):
            assert flooded.post(server.kit.make(request_id, **fresh)).status_code == 200
    _, events = snapshot(server.store)
    per_request = {request_id: sum(e[2] == request_id for e in events) for request_id in {e[2] for e in events}}
    assert per_request[KNOWN_REQUEST] == 5 and per_request["SomeoneElsesRequest"] == 5
    assert sum(n for request_id, n in per_request.items() if request_id != KNOWN_REQUEST) == 12


def test_a_redelivered_event_is_acknowledged_but_changes_nothing(server):
    # A 4xx would make the provider deliver it again and again (each retries failed callbacks), and
    # the first delivery already did all there is to do: so 200, and nothing recorded or woken again.
    callback = server.kit.make(KNOWN_REQUEST)
    assert server.post(callback).status_code == 200
    before, woken = snapshot(server.store), list(server.woken)
    assert server.post(callback).status_code == 200
    assert snapshot(server.store) == before and server.woken == woken


def test_an_oversized_body_is_refused_by_its_declared_length(server):
    callback = server.kit.make(KNOWN_REQUEST, padding="x" * MAX_BODY)
    assert_refused(server, callback, 413)


def test_an_oversized_body_is_refused_while_streaming_without_a_length(server):
    callback = server.kit.make(KNOWN_REQUEST, padding="x" * MAX_BODY)

    def chunks():
        for start in range(0, len(callback.body), 512):
            yield callback.body[start:start + 512]

    before = snapshot(server.store)
    response = server.client.post(callback.path, content=chunks(), headers=callback.headers)
    assert response.status_code == 413
    assert snapshot(server.store) == before and server.woken == []


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp",
    "application/xml", "",
])
def test_a_wrong_content_type_is_refused(server, content_type):
    callback = server.kit.make(KNOWN_REQUEST)
    callback.headers = {**callback.headers, "Content-Type": content_type}
    assert_refused(server, callback, 415)


def test_other_methods_and_paths_are_refused(server):
    callback = server.kit.make(KNOWN_REQUEST)
    before = snapshot(server.store)
    assert server.client.get(callback.path).status_code == 405
    assert server.client.put(callback.path, content=callback.body, headers=callback.headers).status_code == 405
    assert server.client.post(callback.path + "/extra", content=callback.body,
                              headers=callback.headers).status_code == 404
    if server.kit.name != "legalsign":  # only Legalsign has a path token; a token elsewhere is no route
        assert server.client.post(callback.path + "/token", content=callback.body,
                                  headers=callback.headers).status_code == 404
    assert snapshot(server.store) == before and server.woken == []


@pytest.mark.parametrize("token", ["%C2%80", "%F0%9F%94%91", "%ED%A0%80", "..%2F..", "a" * 300])
def test_a_strange_path_token_is_no_route(server, token):
    callback = server.kit.make(KNOWN_REQUEST)
    callback.path = f"/webhooks/{server.kit.name}/{token}"
    assert_refused(server, callback, 404)


def test_an_event_for_a_request_no_job_knows_wakes_nothing(server):
    # Authentic but about a request this connector never made (another integration on the same account,
    # or a job not yet committed: callbacks can race the create call's reply). It is kept for the grace
    # period and acknowledged with 200, since a 4xx would only make the provider retry for days; after
    # the grace period it is set aside as an orphan, and no job is woken or changed at any point.
    jobs_before, _ = snapshot(server.store)
    assert server.post(server.kit.make("SomeoneElsesRequest")).status_code == 200
    dispatcher = EventDispatcher(store=server.store, clock=server.store.now, orphan_grace=timedelta(0))
    assert dispatcher.dispatch() == 1
    jobs_after, events = snapshot(server.store)
    assert jobs_after == jobs_before
    [(_, _, request_id, _, processed_at, disposition)] = events
    assert (request_id, disposition) == ("SomeoneElsesRequest", "orphan") and processed_at is not None


def test_an_event_naming_our_job_but_another_providers_request_wakes_nothing(server):
    """A valid callback from provider A cannot steer a job of provider B through its external id."""
    other = "legalsign" if server.kit.name != "legalsign" else "signrequest"
    store = server.store
    job = store.create_job(entry_key="other", rule_id="rule", rule={}, provider=other,
                           opportunity_id="006000000000002AAA", opportunity={})
    job.next_run_at = store.now() + timedelta(minutes=30)
    store.save_job(job, release=True)
    callback = server.kit.make("UnknownRequest02")
    if server.kit.name == "signrequest":
        callback = server.kit.make("UnknownRequest02", document={"uuid": "UnknownRequest02", "external_id": job.id})
    elif server.kit.name == "legalsign":
        callback = server.kit.make("UnknownRequest02", data={"uuid": "UnknownRequest02", "tag": job.id})
    jobs_before, _ = snapshot(store)
    assert server.post(callback).status_code == 200
    EventDispatcher(store=store, clock=store.now, orphan_grace=timedelta(0)).dispatch()
    assert snapshot(store)[0] == jobs_before


@pytest.mark.parametrize("request_id", ["R" * 101, "Req\x00uest", "Req\nuest"])
def test_ids_the_store_cannot_keep_as_given_are_refused(server, request_id):
    """PostgreSQL refuses NUL and over-long values; such a callback is a 400, never a 500 (or a cut id).
    (Legalsign's parser refuses these ids itself; the other two rely on the webhook server's check.)"""
    assert_refused(server, server.kit.make(request_id), 400)


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def refused_in_one_line(server, callback: Callback, caplog) -> None:
    """A 400 that changes nothing, logged as one WARNING line without a traceback."""
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert_refused(server, callback, 400)
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1 and lines[0].exc_info is None, [r.getMessage() for r in lines]


@pytest.mark.parametrize("body", [b"[" * MAX_BODY, b"[" * (MAX_BODY // 2) + b"]" * (MAX_BODY // 2),
                                  b"{\"a\":" * (MAX_BODY // 5)],
                         ids=["open-brackets", "balanced-brackets", "nested-objects"])
def test_a_body_nested_past_the_parsers_recursion_is_refused_in_one_line(server, caplog, body):
    """The credential is right (OneSpan's key, Legalsign's path): the body alone is hostile. It used to
    raise RecursionError out of the JSON parser: a 500 and a 55-line traceback."""
    callback = server.kit.make(KNOWN_REQUEST)
    callback.body = body
    refused_in_one_line(server, callback, caplog)


def test_a_megabyte_of_brackets_from_anyone_is_refused_in_one_line(store_url, caplog):
    """The report's case: no credential, 100,000 `[` to SignRequest under the daemon's default 1 MB cap."""
    store = Store(store_url)
    store.migrate()
    kit = KITS["signrequest"]()
    client = TestClient(build_webhook_app(store=store, providers={kit.name: kit.provider}, max_body_bytes=1_000_000),
                        raise_server_exceptions=False)
    with caplog.at_level(logging.INFO):
        response = client.post("/webhooks/signrequest", content=b"[" * 100_000,
                               headers={"Content-Type": "application/json"})
    store.close()
    assert (response.status_code, response.text) == (400, "callback body is nested too deeply")
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1 and lines[0].exc_info is None


def test_an_authentic_callback_with_a_field_nested_hundreds_deep_is_refused_in_one_line(server, caplog):
    """Deep enough to hurt whatever walks or prints the value next, shallow enough for the parser."""
    refused_in_one_line(server, server.kit.make(KNOWN_REQUEST, extra=_nested(900)), caplog)


@pytest.mark.parametrize("field", ["sessionUser", "extra"])
def test_an_authentic_callback_with_a_lone_surrogate_is_refused_in_one_line(server, caplog, field):
    # "\ud800" is valid JSON syntax but no Unicode text: OneSpan's event identity used to fail to encode it
    # (UnicodeEncodeError, a 500); elsewhere it would reach the store or the logs.
    refused_in_one_line(server, server.kit.make(KNOWN_REQUEST, **{field: "x\ud800y"}), caplog)


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_trailing_slash_is_no_route_and_no_redirect_to_the_callers_host(server, method):
    """Starlette used to answer 307 with a Location built from the request's Host header."""
    callback = server.kit.make(KNOWN_REQUEST)
    before = snapshot(server.store)
    response = server.client.request(method, callback.path + "/", content=callback.body,
                                     headers={**callback.headers, "Host": "attacker.example"}, follow_redirects=False)
    assert response.status_code in (404, 405) and "location" not in response.headers
    assert snapshot(server.store) == before and server.woken == []
    healthz = server.client.get("/healthz/", headers={"Host": "attacker.example"}, follow_redirects=False)
    assert healthz.status_code == 404 and "location" not in healthz.headers
