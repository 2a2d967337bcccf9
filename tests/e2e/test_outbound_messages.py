"""Push triggers by Salesforce Outbound Message, end to end: the simulated org's Flow posts the SOAP message to
the daemon's endpoint over HTTP; the daemon re-reads the opportunity, commits the job, then acknowledges.

No test here polls: every job comes from an Outbound Message.
"""

from __future__ import annotations

import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from sandbox.salesforce_sim.ids import ORG_ID
from tests.e2e.conftest import running_e2e
from tests.e2e.deals import make_deal

STAGE = "Contract Sent"
TOKEN = "om-token-0123456789abcdefghij"


@pytest.fixture
def om(tmp_path):
    with running_e2e(tmp_path, salesforce_org_id=ORG_ID, salesforce_outbound_message_token=TOKEN) as world:
        world.salesforce.outbound.configure(_endpoint(world), ("Id", "StageName", "Name"), retry_base_seconds=0.1)
        yield world


def _endpoint(world, token: str = TOKEN) -> str:
    return f"{world.daemon.settings.public_base_url}/salesforce/outbound-messages/{token}"


def _jobs(world):
    return world.daemon.store.list_jobs()


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_stage_change_by_outbound_message_becomes_one_request(om):
    opportunity_id = make_deal(om.salesforce, "Initech Push")
    started = time.monotonic()
    om.salesforce.set_stage(opportunity_id, STAGE)
    _wait_for(lambda: len(_jobs(om)) == 1)
    to_job = time.monotonic() - started
    assert om.salesforce.outbound.wait_idle()
    om.settle(until=lambda: om.signrequest.create_calls == 1)

    [job] = _jobs(om)
    assert job.opportunity_id == opportunity_id and job.request_id
    assert om.signrequest.create_calls == 1
    [delivery] = om.salesforce.outbound.deliveries
    assert delivery["acked"] and delivery["status_code"] == 200 and delivery["record_ids"] == [opportunity_id]
    assert to_job < 2.0, f"stage change to job took {to_job:.2f}s"


def test_duplicate_and_out_of_order_deliveries_make_nothing_new(om):
    first = make_deal(om.salesforce, "Umbrella One")
    second = make_deal(om.salesforce, "Umbrella Two")
    om.salesforce.faults.add_webhooks("OutboundMessage", reorder=1.0, times=1)  # the first message is overtaken
    om.salesforce.faults.add_webhooks("OutboundMessage", duplicate=1.0)  # and every message goes twice
    om.salesforce.set_stage(first, STAGE)
    _wait_for(lambda: om.salesforce.faults.counts()["reorder"] == 1)  # held back, before the second change
    om.salesforce.set_stage(second, STAGE)
    assert om.salesforce.outbound.wait_idle()

    sent = [d["record_ids"][0] for d in om.salesforce.outbound.deliveries]
    assert sent == [second, second, first, first]  # out of order, and each twice
    assert all(d["acked"] for d in om.salesforce.outbound.deliveries)
    assert sorted(job.opportunity_id for job in _jobs(om)) == sorted([first, second])
    om.settle(until=lambda: om.signrequest.create_calls == 2)
    assert om.signrequest.create_calls == 2


def test_a_redelivered_message_is_acknowledged_without_reading_salesforce_again(om):
    opportunity_id = make_deal(om.salesforce, "Hooli Again")
    om.salesforce.set_stage(opportunity_id, STAGE)
    assert om.salesforce.outbound.wait_idle()
    message = om.salesforce.outbound.deliveries[-1]["body"]
    calls = om.salesforce.total_api_calls
    reply = requests.post(_endpoint(om), data=message, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=5)
    assert reply.status_code == 200 and b"<Ack>true</Ack>" in reply.content
    assert om.salesforce.total_api_calls == calls
    assert len(_jobs(om)) == 1


def test_an_unacknowledged_message_is_retried_and_still_makes_one_job(om):
    opportunity_id = make_deal(om.salesforce, "Vandelay Lost Ack")
    # The daemon takes the message but its Ack never reaches Salesforce: the sender stops waiting first.
    om.salesforce.outbound.timeout = 0.3
    om.salesforce.inject_fault("GET /query", error_code=None, delay_seconds=1.0, times=1)
    om.salesforce.set_stage(opportunity_id, STAGE)
    assert om.salesforce.outbound.wait_idle(timeout=15)

    deliveries = om.salesforce.outbound.deliveries
    assert deliveries[0]["status_code"] is None and not deliveries[0]["acked"]
    assert deliveries[-1]["acked"] and len(deliveries) >= 2
    assert len({d["notification_ids"][0] for d in deliveries}) == 1  # the same notification every time
    _wait_for(lambda: len(_jobs(om)) == 1)
    time.sleep(1.2)  # the first, slow attempt finishes its work too
    assert len(_jobs(om)) == 1


def test_a_message_sent_while_the_daemon_is_down_arrives_after_it_restarts(om):
    opportunity_id = make_deal(om.salesforce, "Soylent Restart")
    om.daemon.stop()
    om.salesforce.set_stage(opportunity_id, STAGE)
    _wait_for(lambda: len(om.salesforce.outbound.deliveries) >= 2)  # refused connections, retried
    assert not any(d["acked"] for d in om.salesforce.outbound.deliveries)
    om.restart()
    assert om.salesforce.outbound.wait_idle(timeout=15)
    assert om.salesforce.outbound.deliveries[-1]["acked"]
    assert [job.opportunity_id for job in _jobs(om)] == [opportunity_id]


def _post(world, body: bytes, token: str = TOKEN) -> requests.Response:
    return requests.post(_endpoint(world, token), data=body, timeout=5,
                         headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})


def test_forged_malformed_hostile_and_oversized_messages_get_a_4xx_and_make_nothing(om):
    opportunity_id = make_deal(om.salesforce, "Stark Forged")
    om.salesforce.set_stage(opportunity_id, STAGE)
    assert om.salesforce.outbound.wait_idle()
    good = om.salesforce.outbound.deliveries[-1]["body"]
    fresh = good.replace(b"<Id>04l", b"<Id>04m")  # other notification ids, so nothing is skipped as taken
    forged = fresh.replace(ORG_ID.encode(), b"00D000000000001AAA")
    xxe = fresh.replace(b"?>", b'?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>', 1)
    laughs = fresh.replace(b"?>", b'?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>', 1)
    oversized = fresh.replace(b"<SessionId", b"<!--" + b"x" * 1_000_001 + b"--><SessionId")
    calls = om.salesforce.total_api_calls
    jobs = len(_jobs(om))

    answers = {name: _post(om, body) for name, body in (
        ("forged org", forged), ("malformed", fresh[:-40]), ("xxe", xxe), ("entities", laughs),
        ("oversized", oversized), ("not soap", b'{"json": true}'))}
    wrong_token = _post(om, fresh, token="not-the-token-0123456789abcdef")

    assert {name: reply.status_code for name, reply in answers.items()} == {
        "forged org": 403, "malformed": 400, "xxe": 400, "entities": 400, "oversized": 413, "not soap": 400}
    for reply in answers.values():
        assert reply.headers["content-type"].startswith("text/xml")
        assert b"<faultcode>soapenv:Client</faultcode>" in reply.content and b"Ack" not in reply.content
    assert b"OrganizationId" in answers["forged org"].content
    assert wrong_token.status_code == 404
    assert om.salesforce.total_api_calls == calls and len(_jobs(om)) == jobs
    # and one bad message affects no other: the genuine one is still taken
    assert _post(om, fresh).status_code == 200


def test_messages_show_in_metrics_with_the_push_lag(om):
    opportunity_id = make_deal(om.salesforce, "Metered Push")
    om.salesforce.set_stage(opportunity_id, STAGE)
    assert om.salesforce.outbound.wait_idle()
    assert requests.post(_endpoint(om, "wrong-token"), data=b"<x/>", timeout=5).status_code == 404
    text = requests.get(f"{om.daemon.settings.public_base_url}/metrics", timeout=5).text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("connector_webhooks_accepted_total", (("provider", "salesforce"),))] == 1
    assert samples[("connector_webhooks_refused_total", (("provider", "salesforce"), ("reason", "unknown_path")))] == 1
    assert 0 <= samples[("connector_push_lag_seconds", ())] < 10  # the simulator's stage change, just now
