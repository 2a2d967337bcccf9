"""Webhook load from its own process: authentic SignRequest callbacks over keep-alive connections.

    python -m benchmarks.loadgen URL API_TOKEN SECONDS CONNECTIONS OUT_FILE

writes one JSON object to OUT_FILE: answers by status, every acknowledgement latency in ms, and the event ids
answered 200 (so the caller can check each one is in the database). Each connection sends its next
callback once the previous one is answered. Raw asyncio streams (on uvloop when installed) and
callbacks built from a template, not an HTTP client and json.dumps: on a 2-core machine the generator
shares the CPU with the server, so it must cost little.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from sandbox.signrequest_sim.callbacks import event_hash

EVENT_TYPE = "signer_viewed"
# A SignRequest callback for a document no job knows (the ingest figure is about recording, not matching).
_BODY = ('{"uuid": "%(event)s", "status": "ok", "event_type": "' + EVENT_TYPE + '", "event_time": "%(time)s", '
         '"event_hash": "%(hash)s", "token_name": "Token", '
         '"document": {"uuid": "%(event)s", "external_id": null, "status": "si"}}')


class _Signer:
    """event_time and its hash, recomputed when the second changes (the hash covers only those two)."""

    def __init__(self, api_token: str):
        self.api_token, self.second, self.fields = api_token, None, {}

    def __call__(self) -> dict[str, str]:
        second = int(time.time())
        if second != self.second:
            self.second = second
            self.fields = {"time": str(second), "hash": event_hash(self.api_token, str(second), EVENT_TYPE)}
        return self.fields


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    at = head.lower().find(b"\r\ncontent-length:")
    length = int(head[at + 17:head.index(b"\r\n", at + 2)]) if at >= 0 else 0
    if length:
        await reader.readexactly(length)
    return status


async def _connection(url, prefix: str, signer: _Signer, until: float, latencies: list[float], statuses: dict,
                      acknowledged: list[str]) -> None:
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    head = f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\nContent-Length: "
    count = 0
    try:
        while time.perf_counter() < until:
            count += 1
            event_id = f"{prefix}-{count}"
            body = (_BODY % {"event": event_id, **signer()}).encode()
            sent = time.perf_counter()
            writer.write(f"{head}{len(body)}\r\n\r\n".encode() + body)
            status = await _read_response(reader)
            latencies.append((time.perf_counter() - sent) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                acknowledged.append(event_id)
    finally:
        writer.close()


async def generate(url: str, api_token: str, seconds: float, connections: int) -> dict:
    parsed = urlsplit(url)
    signer = _Signer(api_token)
    run = uuid.uuid4().hex[:12]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    acknowledged: list[str] = []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(_connection(parsed, f"{run}-{n}", signer, until, latencies, statuses, acknowledged)
                           for n in range(connections)))
    return {"seconds": time.perf_counter() - started, "statuses": statuses, "latencies_ms": latencies,
            "acknowledged": acknowledged}


def _run(coroutine):
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


if __name__ == "__main__":
    target, token, duration, conns, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    # To a file: through a pipe, the long line was sometimes cut at a multiple of 64 KiB after the event loop ran.
    Path(out).write_text(json.dumps(_run(generate(target, token, duration, conns))))
