"""The simulated org's Outbound Messages: the Flow's condition, retries until Ack, the envelope the daemon's
parser reads, and giving up after the maximum age."""

from __future__ import annotations

import time

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connector.inbound import outbound_envelope
from connector.runtime.servers import serve_in_thread
from sandbox.salesforce_sim import SalesforceSimulator
from sandbox.salesforce_sim.ids import ORG_ID


class Receiver:
    """An endpoint that refuses the first `refuse` messages (503), then acknowledges."""

    def __init__(self, refuse: int = 0):
        self.refuse = refuse
        self.bodies: list[bytes] = []
        self.times: list[float] = []

        async def receive(request: Request) -> Response:
            self.bodies.append(await request.body())
            self.times.append(time.monotonic())
            if len(self.bodies) <= self.refuse:
                return Response(outbound_envelope.fault("busy", client=False), 503, media_type="text/xml")
            return Response(outbound_envelope.ack(), media_type="text/xml")

        self.server = serve_in_thread(Starlette(routes=[Route("/om", receive, methods=["POST"])]))
        self.url = f"{self.server.url}/om"


@pytest.fixture
def org():
    sim = SalesforceSimulator()
    yield sim
    sim.close()


def _deal(sim: SalesforceSimulator) -> str:
    return sim.create_record("Opportunity", {"Name": "Flow Deal", "StageName": "Qualification",
                                             "CloseDate": "2026-12-31"})


def test_a_stage_change_is_sent_until_acknowledged_with_one_notification_id(org):
    receiver = Receiver(refuse=2)
    try:
        action_id = org.outbound.configure(receiver.url, ("Id", "StageName", "Amount"), retry_base_seconds=0.1)
        deal = _deal(org)
        org.update_record("Opportunity", deal, {"Amount": 10})  # not a stage change: the Flow does not run
        org.set_stage(deal, "Contract Sent")
        assert org.outbound.wait_idle(timeout=5)
    finally:
        receiver.server.stop()
    assert len(receiver.bodies) == 3
    messages = [outbound_envelope.parse(body) for body in receiver.bodies]
    assert {(m.organization_id, m.action_id) for m in messages} == {(ORG_ID, action_id)}
    assert {m.notifications[0].id for m in messages} == {messages[0].notifications[0].id}
    notification = messages[-1].notifications[0]
    assert (notification.opportunity_id, notification.stage, notification.fields["Amount"]) == (
        deal, "Contract Sent", "10.0")
    waits = [later - earlier for earlier, later in zip(receiver.times, receiver.times[1:], strict=False)]
    assert waits[0] >= 0.1 and waits[1] >= 0.2  # each wait twice the last
    assert [d["acked"] for d in org.outbound.deliveries] == [False, False, True]


def test_a_message_never_acknowledged_is_given_up_after_the_maximum_age(org):
    receiver = Receiver(refuse=1000)
    try:
        org.outbound.configure(receiver.url, retry_base_seconds=0.02, max_age_seconds=0.3)
        org.set_stage(_deal(org), "Contract Sent")
        assert org.outbound.wait_idle(timeout=5)
    finally:
        receiver.server.stop()
    assert len(org.outbound.expired) == 1 and len(receiver.bodies) >= 2


def test_no_message_before_the_flow_is_configured_or_after_it_is_deactivated(org):
    receiver = Receiver()
    try:
        deal = _deal(org)
        org.set_stage(deal, "Proposal")
        org.outbound.configure(receiver.url)
        org.outbound.deactivate()
        org.set_stage(deal, "Contract Sent")
        assert org.outbound.wait_idle(timeout=2)
    finally:
        receiver.server.stop()
    assert receiver.bodies == [] and org.outbound.queued == 0
