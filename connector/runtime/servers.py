"""Run an ASGI app on uvicorn in a background thread (simulators, tests, the sandbox)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn

from connector.inbound.server_guard import ServerLimits, guarded_protocol


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def authority(self) -> str:
        """`host:port`, as a download-host pattern names a server on a port of its own."""
        return self.url.split("://", 1)[1]

    def stop(self, timeout: float = 5.0, *, graceful: bool = False) -> None:
        """Close the server. `graceful`: requests under way are answered first (at most `timeout` seconds, then
        the rest is cut); otherwise it closes at once, without waiting for idle keep-alive connections."""
        self.server.should_exit = True
        if graceful:
            self.thread.join(timeout)
        self.server.force_exit = True
        self.thread.join(timeout)


def serve_in_thread(
    app,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    log_level: str = "warning",
    startup_timeout: float = 10.0,
    limits: ServerLimits | None = None,
) -> RunningServer:
    """Start `app` and return once it accepts connections. Port 0 picks a free port.

    uvicorn runs on uvloop with the httptools parser (both dependencies; uvicorn falls back to asyncio
    and h11 without them): the webhook server spends most of its time in the event loop and the HTTP
    parser, and these are several times cheaper there. Access logs stay off.

    With `limits` (the daemon's webhook server), slow, idle and surplus connections are closed
    (`connector.inbound.server_guard`)."""
    port = port or free_port(host)
    http: object = "auto"
    keep_alive: float = 5
    if limits is not None:
        http, keep_alive = guarded_protocol(limits), limits.keep_alive_seconds
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=False, loop="auto",
        http=http,  # type: ignore[arg-type]  # a protocol class, which uvicorn takes though its stub says str
        timeout_keep_alive=keep_alive,  # type: ignore[arg-type]  # seconds for loop.call_later: float is fine
        ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile, lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server on {host}:{port} did not start")
        time.sleep(0.02)
    scheme = "https" if ssl_certfile else "http"
    return RunningServer(url=f"{scheme}://{host}:{port}", server=server, thread=thread)
