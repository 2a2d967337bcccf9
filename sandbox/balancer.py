"""A small TCP load balancer, for replicas in tests and benchmarks: one public address, any live replica.

Each incoming connection goes to the next backend in turn; a backend that refuses the connection (a replica
that is down or restarting) is skipped for the next one. Bytes are then copied both ways until either side
closes. This is what a real load balancer in front of the replicas does for callbacks (README "Running several
replicas"), without health checks: a replica that dies mid-request resets the connection and the provider
retries, as it would in production.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

from connector.runtime.servers import free_port

CONNECT_TIMEOUT = 1.0


class Balancer:
    def __init__(self, backends: list[tuple[str, int]], *, host: str = "127.0.0.1", port: int = 0):
        self.backends = list(backends)
        self.host, self.port = host, port or free_port(host)
        self.connections: Counter[int] = Counter()  # by backend port
        self.refused = 0  # connections no backend would take
        self._next = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        started = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, self.host, self.port))
            started.set()
            self._loop.run_forever()
            self._server.close()
            self._loop.run_until_complete(self._server.wait_closed())
            self._loop.close()

        self._thread = threading.Thread(target=run, name=f"balancer:{self.port}", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the balancer did not start")
        return self.url

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream = None
        for _ in range(len(self.backends)):
            host, port = self.backends[self._next % len(self.backends)]
            self._next += 1
            try:
                upstream = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)
                self.connections[port] += 1
                break
            except (TimeoutError, OSError):
                continue
        if upstream is None:
            self.refused += 1
            client_writer.close()
            return
        reader, writer = upstream
        await asyncio.gather(_pipe(client_reader, writer), _pipe(reader, client_writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except (ConnectionError, OSError, RuntimeError):
            pass
