"""An emulated round trip for the benchmarks: a TCP proxy on 127.0.0.1 that holds every chunk
for a while in each direction (this machine's kernel has no ``netem``).

Shared by ``bench.py`` (``--latency-ms``) and ``wan.py``. It works on bytes, so TLS and
HTTP/2 pass through it untouched, and it counts what it carried: connections opened and
chunks each way, from which a benchmark can tell how many round trips a client needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass


@dataclass
class ProxyCounts:
    """What went through the proxy since the last :meth:`DelayProxy.reset`."""

    connections: int = 0
    chunks_up: int = 0
    """Reads from clients forwarded to the server (each at most 64 KiB)."""
    chunks_down: int = 0
    bytes_up: int = 0
    bytes_down: int = 0


class DelayProxy:
    """127.0.0.1 TCP proxy adding ``delay`` seconds to every chunk, each way, in order.

    Chunks are queued with a due time rather than slept on in turn, so a connection keeps
    streaming (bandwidth is not throttled) and only latency grows: what a far registry does.
    """

    def __init__(self, target_host: str, target_port: int, delay: float) -> None:
        self.target = (target_host, target_port)
        self.delay = delay
        self.port = 0
        self.counts = ProxyCounts()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    def reset(self) -> ProxyCounts:
        """The counts so far, and start counting again from zero."""
        counts, self.counts = self.counts, ProxyCounts()
        return counts

    def __enter__(self) -> DelayProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop
        ).result()
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _handle(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        self.counts.connections += 1
        try:
            s_reader, s_writer = await asyncio.open_connection(*self.target)
        except OSError:
            c_writer.close()
            return
        try:
            await asyncio.gather(
                self._pipe(c_reader, s_writer, up=True), self._pipe(s_reader, c_writer, up=False)
            )
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # A reset, or the proxy shutting down: either way this connection is over.
        finally:
            for w in (c_writer, s_writer):
                with contextlib.suppress(Exception):
                    w.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, up: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def pump() -> None:
            while True:
                data = await reader.read(1 << 16)
                queue.put_nowait((loop.time() + self.delay, data))
                if not data:
                    return
                if up:
                    self.counts.chunks_up += 1
                    self.counts.bytes_up += len(data)
                else:
                    self.counts.chunks_down += 1
                    self.counts.bytes_down += len(data)

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof():
                        with contextlib.suppress(OSError):
                            writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        await asyncio.gather(pump(), deliver())
