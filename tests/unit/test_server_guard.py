"""Slow, idle and surplus connections to the daemon's HTTP server are closed, with real sockets on 127.0.0.1.

They used to be kept: 300 connections held open for 60 s were all still open at the end."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from connector.inbound.server_guard import ServerLimits
from connector.inbound.webhooks import build_webhook_app
from connector.runtime.servers import serve_in_thread
from connector.store import Store
from tests.fakes import FakeProvider
from tests.log_capture import TracebackCatcher

LIMITS = ServerLimits(max_connections=20, header_seconds=0.6, body_seconds=0.8, keep_alive_seconds=0.6)
MARGIN = 2.5  # the machine may be busy: a closure may come this much after its deadline
_HEADERS, _BODY = FakeProvider().callback("req-1", "signed", event_id="evt-1")  # an authentic callback
CALLBACK = (b"POST /webhooks/fake HTTP/1.1\r\nHost: c\r\nX-Fake-Signature: %s\r\nContent-Length: %d\r\n\r\n%s"
            % (_HEADERS["x-fake-signature"].encode(), len(_BODY), _BODY))


@pytest.fixture
def served(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/s.db")
    store.migrate()
    app = build_webhook_app(store=store, providers={"fake": FakeProvider()}, max_body_bytes=1000)
    server = serve_in_thread(app, limits=LIMITS)
    yield server, store
    server.stop()
    store.close()


def connect(server) -> socket.socket:
    host, port = server.authority.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=5)


def until_closed(sock: socket.socket, within: float) -> tuple[bytes, float] | None:
    """What the server sent until it closed the connection, and when; None if it was still open `within` s on."""
    started, received = time.monotonic(), b""
    while True:
        left = within - (time.monotonic() - started)
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return None
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return received, time.monotonic() - started
        received += chunk


def drip(sock: socket.socket, data: bytes, every: float = 0.1) -> None:
    """Send `data` a byte at a time, until the server closes the connection."""
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return
        time.sleep(every)


def test_an_idle_connection_is_closed_at_the_header_deadline(served):
    server, _ = served
    with connect(server) as sock:
        closed = until_closed(sock, LIMITS.header_seconds + MARGIN)
    assert closed is not None, "kept open"
    answer, after = closed
    assert answer.startswith(b"HTTP/1.1 408 ") and after >= LIMITS.header_seconds * 0.8


def test_a_head_dripped_a_byte_at_a_time_is_cut_at_the_header_deadline(served):
    """Each byte comes well within any idle timeout; the head as a whole does not."""
    server, _ = served
    with connect(server) as sock:
        started = time.monotonic()
        drip(sock, CALLBACK[:60], every=0.05)  # 3 s of dripping at most
        closed = until_closed(sock, MARGIN)
        elapsed = time.monotonic() - started
    assert closed is not None and closed[0].startswith(b"HTTP/1.1 408 ")
    assert elapsed < LIMITS.header_seconds + MARGIN


def test_a_body_dripped_a_byte_at_a_time_is_cut_at_the_body_deadline_and_nothing_is_recorded(served):
    server, store = served
    head, body = CALLBACK.split(b"\r\n\r\n")
    errors = TracebackCatcher()  # uvicorn's loggers do not propagate to the root, so caplog would not see them
    for name in ("uvicorn.error", ""):
        logging.getLogger(name).addHandler(errors)
    with connect(server) as sock:
        sock.sendall(head.replace(b"Content-Length: 5", b"Content-Length: 60") + b"\r\n\r\n")
        started = time.monotonic()
        drip(sock, b"x" * 60, every=0.05)
        closed = until_closed(sock, MARGIN)
        elapsed = time.monotonic() - started
    time.sleep(0.2)  # the app's side of the closed request ends
    for name in ("uvicorn.error", ""):
        logging.getLogger(name).removeHandler(errors)
    assert closed is not None and closed[0].startswith(b"HTTP/1.1 408 ")
    assert elapsed < LIMITS.body_seconds + MARGIN
    assert store.unprocessed_events() == []
    assert errors.records == []  # the request the server cut short ends without a traceback


def test_requests_in_time_are_answered_and_an_idle_kept_alive_connection_is_closed_after_keep_alive(served):
    server, store = served
    with connect(server) as sock:
        for _ in range(2):  # two requests on one connection
            sock.sendall(CALLBACK)
            sock.settimeout(5)
            answer = sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"OK")
        closed = until_closed(sock, LIMITS.keep_alive_seconds + MARGIN)
    assert closed == (b"", pytest.approx(LIMITS.keep_alive_seconds, abs=MARGIN))
    assert len(store.unprocessed_events()) == 1  # the second was a redelivery


def test_connections_beyond_the_limit_get_a_503_and_the_server_serves_on(served, caplog):
    server, store = served
    held = [connect(server) for _ in range(LIMITS.max_connections)]
    try:
        time.sleep(0.1)
        with caplog.at_level(logging.WARNING, logger="connector.inbound.server_guard"):
            surplus = [connect(server) for _ in range(10)]
            refused = [until_closed(sock, MARGIN) for sock in surplus]
        for sock in surplus:
            sock.close()
        assert all(r is not None and r[0].startswith(b"HTTP/1.1 503 ") for r in refused), refused
        assert max(r[1] for r in refused) < LIMITS.header_seconds  # at once, not at a deadline
        assert len([r for r in caplog.records if r.name == "connector.inbound.server_guard"]) == 1  # one summary line
        # the held ones reach their header deadline and are closed: room again for a real callback
        assert all(until_closed(sock, LIMITS.header_seconds + MARGIN) is not None for sock in held)
    finally:
        for sock in held:
            sock.close()
    with connect(server) as sock:
        sock.sendall(CALLBACK)
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    assert len(store.unprocessed_events()) == 1


def test_a_request_head_over_64_kb_is_refused(served):
    server, _ = served
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: c\r\n" + b"X-Pad: " + b"a" * 70_000 + b"\r\n\r\n")
        closed = until_closed(sock, MARGIN)
    assert closed is not None and closed[0].startswith(b"HTTP/1.1 400 ")


def test_the_daemon_serves_its_webhooks_with_the_configured_limits(world):
    world.settings = world.settings.model_copy(update={"webhook_port": 0, "webhook_header_timeout_seconds": 0.5})
    daemon = world.daemon()
    daemon.serve_webhooks()
    try:
        with connect(daemon._server) as sock:
            closed = until_closed(sock, 0.5 + MARGIN)
    finally:
        daemon.stop()
    assert closed is not None and closed[0].startswith(b"HTTP/1.1 408 ")
