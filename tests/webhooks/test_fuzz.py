"""Fuzz each provider's callback endpoint: whatever arrives, the answer is never a 5xx and nothing
is logged with a traceback. Inputs mix arbitrary bytes, arbitrary JSON, authentic callbacks with
one field replaced by arbitrary JSON, and arbitrary headers, content types and path tokens; the
credential is right in about half the cases so that the checks behind it are reached too.

CONNECTOR_FUZZ_EXAMPLES sets the examples per endpoint (default 150, a few seconds each).
"""

from __future__ import annotations

import json
import logging
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.store import Store
from tests.log_capture import TracebackCatcher
from tests.webhooks.kits import KITS, NOW, Callback, webhook_server

EXAMPLES = int(os.environ.get("CONNECTOR_FUZZ_EXAMPLES", "150"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=12,
)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)
content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
                                 "text/plain", "application/x-www-form-urlencoded", "", " ;"]) | header_text
times = st.sampled_from([NOW, NOW - 60, NOW + 60, NOW - 10**7]) | st.floats(0, 4e9)


@st.composite
def callbacks(draw, kit) -> Callback:
    base = kit.make(draw(st.text(max_size=80) | st.sampled_from(["Req1", "a" * 300, "x\x00y"])),
                    at=draw(times))
    if draw(st.integers(0, 3)) == 0:
        base = kit.forge(base)
    kind = draw(st.sampled_from(["authentic", "mutated", "json", "bytes"]))
    body = base.body
    if kind == "mutated":
        payload = json.loads(body)
        nested = [key for key, value in payload.items() if isinstance(value, dict)]
        target = payload[nested[0]] if nested and draw(st.booleans()) else payload
        for _ in range(draw(st.integers(1, 3))):
            target[draw(st.sampled_from(sorted(target)) | st.text(max_size=10))] = draw(st.text() | json_values)
        body = json.dumps(payload).encode()
    elif kind == "json":
        body = json.dumps(draw(json_values)).encode()
    elif kind == "bytes":
        body = draw(st.binary(max_size=600))
    headers = dict(base.headers)
    if draw(st.integers(0, 3)) == 0:
        headers["Content-Type"] = draw(content_types)
    if draw(st.integers(0, 3)) == 0:
        headers["Authorization"] = draw(header_text)
    headers.update(draw(st.dictionaries(st.sampled_from(["X-Signature", "X-Hmac-Sha256", "Content-Encoding",
                                                          "Transfer-Encoding-Hint"]), header_text, max_size=2)))
    path = base.path
    if draw(st.integers(0, 4)) == 0:
        path = f"/webhooks/{kit.name}/" + draw(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1,
                                                       max_size=60).map(_path_segment))
    return Callback(path, headers, body)


def _path_segment(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


@pytest.mark.parametrize("name", sorted(KITS))
def test_no_callback_yields_a_5xx_or_a_traceback(name, store_url):
    kit = KITS[name]()
    store = Store(store_url)
    store.migrate()
    server = webhook_server(kit, store)
    tracebacks = TracebackCatcher()
    logging.getLogger().addHandler(tracebacks)

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(callback=callbacks(kit))
    def check(callback: Callback) -> None:
        response = server.post(callback)
        assert response.status_code < 500, (response.status_code, response.text)
        assert not tracebacks.records, [r.getMessage() for r in tracebacks.records]

    try:
        check()
    finally:
        logging.getLogger().removeHandler(tracebacks)
        store.close()
