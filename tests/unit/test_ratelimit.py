"""Provider rate limits: evenly spaced turns, a 429 pauses every caller, safety-net checks take a share."""

from __future__ import annotations

import threading

import requests
import responses

from connector.runtime.ratelimit import RateLimitedAdapter, RateLimiter, background_calls

API = "https://api.example.test/api/v1"


class FakeTime:
    """A clock that moves only when someone sleeps."""

    def __init__(self):
        self.now = 100.0
        self.lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def _limiter(rate, time_: FakeTime, **kwargs) -> RateLimiter:
    return RateLimiter("Provider", rate, clock=time_.clock, sleep=time_.sleep, **kwargs)


def _send_times(limiter: RateLimiter, time_: FakeTime, count: int) -> list[float]:
    times = []
    for _ in range(count):
        limiter.acquire()
        times.append(round(time_.now - 100.0, 6))
    return times


def test_calls_are_spaced_evenly_at_the_rate():
    time_ = FakeTime()
    assert _send_times(_limiter(10, time_), time_, 4) == [0.0, 0.1, 0.2, 0.3]


def test_without_a_rate_calls_never_wait():
    time_ = FakeTime()
    assert _send_times(_limiter(None, time_), time_, 3) == [0.0, 0.0, 0.0]


def test_a_pause_holds_every_call_until_it_ends():
    time_ = FakeTime()
    limiter = _limiter(None, time_)
    limiter.pause(2.5)
    assert _send_times(limiter, time_, 2) == [2.5, 2.5]


def test_a_pause_that_came_while_a_caller_waited_for_its_turn_holds_it_too():
    time_, paused = FakeTime(), []

    def sleep_through_a_429(seconds: float) -> None:
        time_.sleep(seconds)
        if not paused:
            paused.append(limiter.pause(3))

    limiter = RateLimiter("Provider", 1, clock=time_.clock, sleep=sleep_through_a_429)
    limiter.acquire()  # first turn at once, no sleep
    limiter.acquire()  # sleeps to its turn at 1.0, a 429 arrives meanwhile: waits until 1.0 + 3
    assert time_.now - 100.0 == 4.0


def test_background_calls_take_at_most_their_share_and_leave_the_rest_to_others():
    time_ = FakeTime()
    limiter = _limiter(10, time_, background_share=0.2)  # background: 2 a second
    with background_calls():
        background = _send_times(limiter, time_, 3)
    assert background == [0.0, 0.5, 1.0]
    foreground = _send_times(limiter, time_, 2)
    assert foreground == [1.1, 1.2]  # not held to the share


def test_background_marking_is_per_thread():
    time_, seen = FakeTime(), []
    limiter = _limiter(10, time_, background_share=0.1)
    with background_calls():
        limiter.acquire()
        other = threading.Thread(target=lambda: (limiter.acquire(), seen.append(round(time_.now - 100.0, 6))))
        other.start()
        other.join()
    assert seen == [0.1]  # the other thread's call is foreground: the next turn, not the share's 1.0


@responses.activate
def test_a_429_pauses_the_provider_for_its_retry_after():
    time_ = FakeTime()
    limiter = _limiter(None, time_)
    session = requests.Session()
    session.mount("https://api.example.test/", RateLimitedAdapter(limiter, pool_size=4))
    responses.get(f"{API}/documents/", status=429, headers={"Retry-After": "7"})
    responses.get(f"{API}/documents/", json={"results": []})
    assert session.get(f"{API}/documents/").status_code == 429
    assert session.get(f"{API}/documents/").status_code == 200
    assert time_.now - 100.0 == 7.0  # the second call waited out the pause
    assert [c.request.url for c in responses.calls] == [f"{API}/documents/"] * 2


@responses.activate
def test_a_429_without_retry_after_pauses_a_second():
    time_ = FakeTime()
    limiter = _limiter(None, time_)
    session = requests.Session()
    session.mount("https://api.example.test/", RateLimitedAdapter(limiter))
    responses.post(f"{API}/signrequest-quick-create/", status=429)
    session.post(f"{API}/signrequest-quick-create/", json={})
    assert limiter.paused_until - time_.now == 1.0


@responses.activate
def test_other_hosts_on_the_session_are_not_limited():
    time_ = FakeTime()
    limiter = _limiter(None, time_)
    session = requests.Session()
    session.mount("https://api.example.test/", RateLimitedAdapter(limiter))
    responses.get("https://files.example.test/x.pdf", status=429, headers={"Retry-After": "30"})
    session.get("https://files.example.test/x.pdf")
    assert limiter.paused_until == 0.0
