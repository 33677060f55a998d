"""Loopback HTTP servers scripted byte for byte, and an httpx client over LeanTransport.

For tests of mplat.registry.lean: framing corners are exactly what a script says, and each
server counts the connections it accepts, which is how keep-alive reuse is checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from mplat.registry.lean import LeanTransport

CLOSE = None
"""A script step: the server closes the connection."""


class _Reset:
    """The type of :data:`RESET`."""


RESET = _Reset()
"""A script step: the server resets the connection (TCP RST), as a crashing proxy does."""

Step = bytes | float | _Reset | None
"""bytes: send them; float: sleep; None: close the connection; RESET: reset it."""


@dataclass(frozen=True)
class Request:
    """One request as the server read it off the wire."""

    conn: int
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    raw_body: bytes


Answer = Callable[[Request], Sequence[Step]]
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader, conn: int) -> Request | None:
    """Parse one HTTP/1.1 request (Content-Length or chunked body); None on a clean EOF."""
    line = await reader.readline()
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        raw, body = b"", b""
        while True:
            size_line = await reader.readline()
            raw += size_line
            size = int(size_line.split(b";")[0], 16)
            data = await reader.readexactly(size + 2)
            raw += data
            if size == 0:
                break
            body += data[:-2]
        return Request(conn, method, target, headers, body, raw)
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Request(conn, method, target, headers, body, body)


@dataclass
class RawServer:
    """A loopback TCP (or TLS) server; by default it answers each request with a script."""

    answer: Answer | None = None
    handler: Handler | None = None
    tls: ssl.SSLContext | None = None
    accepted: int = 0
    client_closed: int = 0
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        conn = self.accepted
        self._writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        # Cancellation at teardown ends a stalled script quietly (asyncio would log it).
        quiet = (OSError, asyncio.IncompleteReadError, ssl.SSLError, asyncio.CancelledError)
        with contextlib.suppress(*quiet):
            if self.handler is not None:
                await self.handler(reader, writer, conn)
            else:
                await self._play(reader, writer, conn)

    async def _play(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: int
    ) -> None:
        assert self.answer is not None
        while (request := await read_request(reader, conn)) is not None:
            self.requests.append(request)
            for step in self.answer(request):
                if step is CLOSE:
                    writer.close()
                    return
                if isinstance(step, _Reset):
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                if isinstance(step, float):
                    await asyncio.sleep(step)
                else:
                    writer.write(step)
                    await writer.drain()
        self.client_closed += 1

    def conns(self) -> list[int]:
        """The connection each request arrived on, in order."""
        return [r.conn for r in self.requests]


def response(
    body: bytes = b"ok", *headers: str, status: str = "200 OK", version: str = "HTTP/1.1"
) -> bytes:
    """A complete response with a Content-Length body."""
    lines = [f"{version} {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def always(*steps: Step) -> Answer:
    return lambda _request: steps


def client(
    *, timeout: float = 3.0, ctx: ssl.SSLContext | None = None, **kw: Any
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=LeanTransport(ctx or ssl.create_default_context()), timeout=timeout, **kw
    )


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


async def get_n(server: RawServer, n: int, path: str = "/") -> list[httpx.Response]:
    async with client() as c:
        return [await c.get(server.url + path) for _ in range(n)]


async def parts(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        await asyncio.sleep(0)
        yield chunk
