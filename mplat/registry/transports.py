"""Which HTTP each origin is spoken to with: HTTP/2 where TLS negotiates it and the registry's
``http2`` setting asks for it, lean HTTP/1.1 everywhere else.

Registries are mostly far away and behind TLS. Over HTTP/2 every request in flight to one
registry shares one connection (one TCP and TLS handshake, however many streams), so more
requests can be in flight without more connections; over HTTP/1.1 each one in flight needs
a connection of its own. Plain-HTTP registries (loopback, ``insecure``) have no ALPN to
negotiate HTTP/2 with and stay on :class:`mplat.registry.lean.LeanTransport`, which costs
less CPU per request than httpx's own HTTP/1.1 and HTTP/2 layers.

Why HTTP/2 is not the default: measured on benchmarks/wan.py (TLS registry, 2 cores), httpx's
HTTP/2 (the pure-Python ``h2``) costs about twice the client CPU per request of the lean
transport, and once enough requests are in flight (registry.inflight) the round trips no
longer decide, the CPU does: a no-op plan of 1000 lists on loopback TLS took 10.5 s over
HTTP/2 and 5.7 s over lean HTTP/1.1; behind 20 ms, 500 lists, 4.4 s and 3.4 s (32 in
flight). It pays where connections are scarce (a registry or proxy that caps them).

With ``http2``, an ``https`` origin is first asked over httpx's HTTP/2 transport, offering
``h2`` and ``http/1.1`` by ALPN. A server that chooses HTTP/1.1 (no ``h2`` in its TLS
stack, or a proxy in front that does not speak it) is answered by httpx's HTTP/1.1 that
time, and from then on the origin goes to the lean transport. The choice is per origin, so
a token realm or a blob-storage redirect target is judged on its own.

The two transports need two TLS contexts: httpcore sets the ALPN protocols on the context it
is given, and a context shared with the lean transport (which speaks only HTTP/1.1) must
keep offering ``http/1.1`` alone (see :func:`mplat.registry.tls.context_for`).
"""

from __future__ import annotations

import ssl

import httpx

from mplat.registry.lean import LeanTransport

Origin = tuple[str, str, int]

MAX_H2_CONNECTIONS = 4
"""Connections per origin for the HTTP/2 pool: one carries up to the server's stream limit
(distribution's is 250); more are opened only past it, or while the first is connecting."""


def _origin(url: httpx.URL) -> Origin:
    return (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))


class ChoosingTransport(httpx.AsyncBaseTransport):
    """HTTP/2 for ``https`` origins that negotiate it (ALPN), the lean HTTP/1.1 transport
    for plain HTTP and for origins that did not; see the module docstring."""

    def __init__(
        self,
        lean_context: ssl.SSLContext,
        h2_context: ssl.SSLContext | None,
        *,
        http2: bool = False,
    ) -> None:
        """``h2_context`` is needed only with ``http2`` (None otherwise: no second trust
        store is loaded for a transport that will never be made)."""
        self.lean = LeanTransport(lean_context)
        self._http2 = http2 and h2_context is not None
        self._h2: httpx.AsyncHTTPTransport | None = None
        self._h2_context = h2_context
        self._http1: set[Origin] = set()
        """https origins that answered over HTTP/1.1: the lean transport serves them."""

    def speaks_h2(self, url: httpx.URL) -> bool:
        """Whether a request to ``url`` goes to the HTTP/2 transport (until it says no)."""
        return self._http2 and url.scheme == "https" and _origin(url) not in self._http1

    def _h2_transport(self) -> httpx.AsyncHTTPTransport:
        if self._h2 is None:
            assert self._h2_context is not None  # speaks_h2 holds only with a context
            # Created on first use, so plain-HTTP registries never import h2 at all.
            self._h2 = httpx.AsyncHTTPTransport(
                verify=self._h2_context,
                http1=True,
                http2=True,
                limits=httpx.Limits(
                    max_connections=MAX_H2_CONNECTIONS,
                    max_keepalive_connections=MAX_H2_CONNECTIONS,
                ),
            )
        return self._h2

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.speaks_h2(request.url):
            return await self.lean.handle_async_request(request)
        try:
            h2 = self._h2_transport()
        except ImportError:  # No h2 package (a checkout run without `pip install`).
            self._http2 = False
            return await self.lean.handle_async_request(request)
        resp = await h2.handle_async_request(request)
        if resp.extensions.get("http_version") != b"HTTP/2":
            self._http1.add(_origin(request.url))
        return resp

    async def aclose(self) -> None:
        try:
            if self._h2 is not None:
                await self._h2.aclose()
        finally:
            await self.lean.aclose()
