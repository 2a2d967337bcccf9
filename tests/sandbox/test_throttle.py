"""The simulators' network wrapper: a provider's rate cap answered with 429 + Retry-After, counted."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from sandbox.throttle import Throttle, TokenBucket


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _app():
    return Starlette(routes=[Route("/ping", lambda _r: PlainTextResponse("pong"), methods=["GET", "POST"])])


def test_calls_above_the_cap_get_429_with_retry_after_and_are_counted():
    clock = FakeClock()
    throttle = Throttle(_app(), rate_per_second=2, clock=clock)
    client = TestClient(throttle)
    assert [client.get("/ping").status_code for _ in range(2)] == [200, 200]
    refused = client.post("/ping", content=b"{}")
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    clock.now += 0.5  # one token back at 2 a second
    assert client.get("/ping").status_code == 200
    assert (throttle.counts.calls, throttle.counts.rejected) == (4, 1)
    assert throttle.counts.by_status == {200: 3, 429: 1}


def test_no_cap_passes_everything_and_the_cap_can_change_while_serving():
    clock = FakeClock()
    throttle = Throttle(_app(), clock=clock)
    client = TestClient(throttle)
    assert {client.get("/ping").status_code for _ in range(20)} == {200}
    throttle.rate_per_second = 1
    assert [client.get("/ping").status_code for _ in range(2)] == [200, 429]


def test_bucket_says_how_long_until_the_next_token():
    clock = FakeClock()
    bucket = TokenBucket(4, clock)
    assert [bucket.take() for _ in range(4)] == [0.0] * 4
    assert bucket.take() == 0.25
    clock.now += 0.25
    assert bucket.take() == 0.0
