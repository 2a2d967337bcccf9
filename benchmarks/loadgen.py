"""Webhook load from its own process: authentic SignRequest callbacks over keep-alive connections.

    python -m benchmarks.loadgen URL API_TOKEN SECONDS CONNECTIONS

prints one JSON line: answers by status, every acknowledgement latency in ms, and the event ids
answered 200 (so the caller can check each one is in the database). Raw asyncio streams (on uvloop
when installed) rather than an HTTP client library, so the generator is not the bottleneck.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from urllib.parse import urlsplit

from connector.sandbox.signrequest_sim.callbacks import event_hash


def _callback(api_token: str, event_id: str) -> bytes:
    event_time, event_type = str(int(time.time())), "signer_viewed"
    return json.dumps({
        "uuid": event_id, "status": "ok", "event_type": event_type, "event_time": event_time,
        "event_hash": event_hash(api_token, event_time, event_type), "token_name": "Token",
        "document": {"uuid": str(uuid.uuid4()), "external_id": None, "status": "si"},
    }).encode()


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next((int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:")),
                  0)
    if length:
        await reader.readexactly(length)
    return status


async def _connection(url, api_token: str, until: float, latencies: list[float], statuses: dict,
                      acknowledged: list[str]) -> None:
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        while time.perf_counter() < until:
            event_id = str(uuid.uuid4())
            body = _callback(api_token, event_id)
            request = (f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            sent = time.perf_counter()
            writer.write(request)
            status = await _read_response(reader)
            latencies.append((time.perf_counter() - sent) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                acknowledged.append(event_id)
    finally:
        writer.close()


async def generate(url: str, api_token: str, seconds: float, connections: int) -> dict:
    parsed = urlsplit(url)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    acknowledged: list[str] = []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(_connection(parsed, api_token, until, latencies, statuses, acknowledged)
                           for _ in range(connections)))
    return {"seconds": time.perf_counter() - started, "statuses": statuses, "latencies_ms": latencies,
            "acknowledged": acknowledged}


def _run(coroutine):
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


if __name__ == "__main__":
    target, token, duration, conns = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(_run(generate(target, token, duration, conns))))
