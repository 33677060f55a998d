"""The lifecycle shared by the suite's own HTTP servers (fake registry, fault proxy)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self


class LocalHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a stalled exchange must not hold up stop()
    block_on_close = False
    request_queue_size = 128  # several clients opening many connections at once


class AnyMethodHandler(BaseHTTPRequestHandler):
    """Quiet HTTP/1.1 handler that sends every method to ``_handle``.

    A client that hangs up mid-exchange (``hangups``) closes the connection instead of
    printing a traceback: the tests provoke exactly that on purpose.
    """

    protocol_version = "HTTP/1.1"
    hangups: tuple[type[Exception], ...] = (OSError,)

    def log_message(self, format: str, *args: object) -> None:
        pass  # Quiet: the tests report what they need themselves.

    def handle(self) -> None:
        try:
            super().handle()
        except self.hangups:
            self.close_connection = True

    def _handle(self) -> None:
        raise NotImplementedError

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()


class ServerThread:
    """Serves on 127.0.0.1 at a free port from a daemon thread; a context manager.

    Subclasses say which handler answers, bound to themselves, in ``bound_handler``.
    """

    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    poll_interval = 0.5  # how long stop() may wait for the serving loop to notice

    def bound_handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} not started")
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, the host to put in image references."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> Self:
        server = LocalHTTPServer(("127.0.0.1", 0), self.bound_handler())
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(self.poll_interval,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
