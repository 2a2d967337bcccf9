"""Adapters shared by many worker threads: per-account setup happens once, however many create at once."""

from __future__ import annotations

import threading
import time

import responses

from connector.ports.provider import DocumentSpec, SignerSpec
from tests.adapters.test_onespan_wire import API, PDF, PKG, _expect_send, _spec, provider

THREADS = 8


@responses.activate
def test_onespan_sets_up_its_callback_once_when_many_workers_create_at_once():
    all_started = threading.Event()

    def slow_callback_read(request):
        all_started.wait(10)
        time.sleep(0.1)  # the other workers reach the setup meanwhile
        return 200, {}, "{}"

    responses.add_callback(responses.GET, f"{API}/callback", callback=slow_callback_read)
    responses.post(f"{API}/callback", json={})
    responses.post(f"{API}/packages", json={"id": PKG})
    _expect_send()
    onespan = provider()
    spec = _spec((DocumentSpec("Quote", "Quote.pdf", PDF),), (SignerSpec("dana@x.io", "Dana", "Lee", 1),))
    workers = [threading.Thread(target=onespan.create, args=(spec,)) for _ in range(THREADS)]
    for worker in workers:
        worker.start()
    all_started.set()
    for worker in workers:
        worker.join()
    calls = [(c.request.method, c.request.url) for c in responses.calls]
    assert calls.count(("GET", f"{API}/callback")) == 1
    assert calls.count(("POST", f"{API}/callback")) == 1
    assert calls.count(("POST", f"{API}/packages")) == THREADS
