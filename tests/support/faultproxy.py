"""A fault-injecting HTTP proxy in front of a real registry, for reliability tests.

Real registries fail in ways mocks never do: answers lost after the write happened, bodies cut
short, connections that hang. This proxy forwards every request to a real ``docker-registry``
on loopback and, at a configurable rate chosen by a seeded ``random.Random``, replaces the
exchange with one of those failures. Faults that happen *after* forwarding (``reset_response``,
``truncate``) are the nasty ones: the registry did the work but the client never hears so.

The proxy itself is stdlib only (threads, ``http.server``, ``http.client``). The audit helpers
at the end (``snapshot_tags``, ``broken_tags``) read the registry directly with httpx, bypassing
the proxy, to check what the faults left behind.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx

from tests.support.localserver import AnyMethodHandler, ServerThread

FAULT_KINDS: tuple[str, ...] = (
    "500",  # answered by the proxy, request never forwarded
    "502",
    "503",
    "429",  # with Retry-After: 0 or 1
    "reset_request",  # connection reset after the request head, nothing forwarded
    "reset_response",  # forwarded (the registry acted), then reset in the middle of the answer
    "truncate",  # forwarded, then a Content-Length larger than the body sent, then close
    "stall",  # no answer for `stall` seconds (past the client timeout), then close
)
"""Every kind of fault the proxy knows; pass a subset as ``kinds`` to narrow a test."""

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)


@dataclass(frozen=True)
class Exchange:
    """One request as seen by the proxy, and what it did with it."""

    method: str
    path: str
    fault: str | None
    status: int | None  # the upstream status when forwarded


class FaultProxy(ServerThread):
    """Forward ``127.0.0.1:<free port>`` to ``upstream`` (``host:port``), injecting faults.

    ``rate`` is the probability that a request gets a fault; ``kinds`` which faults are
    drawn (uniformly); ``methods`` limits faults to those HTTP methods; ``latency`` adds a
    fixed delay to every request (to stretch an apply so it can be killed midway).
    """

    def __init__(
        self,
        upstream: str,
        *,
        rate: float = 0.0,
        seed: int = 0,
        kinds: Collection[str] = FAULT_KINDS,
        methods: Collection[str] | None = None,
        stall: float = 2.0,
        latency: float = 0.0,
        refuse_mounts: bool = False,
        throttle: float = 0.0,
        dribble: float = 0.0,
        max_streak: int | None = None,
    ) -> None:
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        self.upstream = upstream
        self.upstream_host, _, port = upstream.rpartition(":")
        self.upstream_port = int(port)
        self.rate = rate
        self.kinds = tuple(kinds)
        self.methods = frozenset(m.upper() for m in methods) if methods is not None else None
        self.stall = stall
        self.latency = latency
        # Like a registry without cross-repository mounts (ECR before 2026): the mount
        # parameters are dropped, so the registry answers 202 with a plain upload session.
        self.refuse_mounts = refuse_mounts
        self.mounts_refused = 0
        # Bytes per second at which request bodies are read (0: as fast as they come), with a
        # small receive buffer so the client really feels the slow link.
        self.throttle = throttle
        # Seconds between the bytes of every answer body (0: all at once): a registry that
        # sends one byte a second.
        self.dribble = dribble
        # At most this many faults in a row for one logical request (see _key), so a test
        # with enough attempts cannot fail by the luck of the draw.
        self.max_streak = max_streak
        self._streak: Counter[tuple[str, str]] = Counter()
        self._outage = 0.0  # seconds of outage armed to begin at the next write request
        self._outage_until: float | None = None
        self.refused = 0  # connections reset during the outage
        self.seed = seed
        self._seen: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self.faults: Counter[str] = Counter()
        self.requests = 0
        self.methods_seen: Counter[str] = Counter()
        self.log: list[Exchange] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def bound_handler(self) -> type[BaseHTTPRequestHandler]:
        return type("_BoundHandler", (_Handler,), {"proxy": self})

    # -- configuration and figures -----------------------------------------------------------

    def configure(
        self,
        *,
        rate: float | None = None,
        kinds: Collection[str] | None = None,
        latency: float | None = None,
        max_streak: int | None = None,
    ) -> None:
        """Change the fault rate, kinds, latency or streak cap between runs (thread-safe)."""
        with self._lock:
            self.max_streak = max_streak
            if rate is not None:
                self.rate = rate
            if kinds is not None:
                self.kinds = tuple(kinds)
            if latency is not None:
                self.latency = latency

    def outage_after_write(self, seconds: float) -> None:
        """From the next write request on, reset every connection for ``seconds`` (a
        registry restart in the middle of an apply); 0 ends any outage."""
        with self._lock:
            self._outage = seconds
            self._outage_until = None
            self.refused = 0

    def _in_outage(self, method: str) -> bool:
        with self._lock:
            now = time.monotonic()
            if self._outage and self._outage_until is None and method in ("PUT", "POST"):
                self._outage_until = now + self._outage
            if self._outage_until is not None and now < self._outage_until:
                self.refused += 1
                return True
            return False

    def only_methods(self, methods: Collection[str] | None) -> None:
        """Inject faults only into requests with these methods (None: every method)."""
        with self._lock:
            self.methods = frozenset(m.upper() for m in methods) if methods is not None else None

    def reset_counts(self) -> None:
        with self._lock:
            self.faults.clear()
            self._seen.clear()
            self._streak.clear()
            self.methods_seen.clear()
            self.requests = 0
            self.log.clear()

    @property
    def writes_seen(self) -> int:
        """Requests received that can change the registry (PUT, POST, PATCH, DELETE)."""
        with self._lock:
            return sum(self.methods_seen[m] for m in ("PUT", "POST", "PATCH", "DELETE"))

    def count(self, predicate: Callable[[Exchange], bool]) -> int:
        """How many logged exchanges match, e.g. tag PUTs the registry has answered."""
        with self._lock:
            return sum(1 for e in self.log if predicate(e))

    @property
    def total_faults(self) -> int:
        return sum(self.faults.values())

    def summary(self) -> str:
        kinds = ", ".join(f"{k}={v}" for k, v in sorted(self.faults.items())) or "none"
        return f"{self.requests} requests, {self.total_faults} faults ({kinds})"

    # -- decisions ---------------------------------------------------------------------------

    def _decide(self, method: str, path: str) -> tuple[str | None, int]:
        """Draw this request's fault (or None) and a Retry-After value.

        The draw comes from a ``random.Random`` seeded with the proxy's seed and the request's
        identity (method, path, and how many times that same request was seen before), not
        from arrival order: concurrent clients interleave differently on every run, yet each
        request, and each retry of it, meets the same fate every time. The identity is the
        logical request (``_key``): a retried upload gets a new session URL, but is the same
        request, so it counts as the next try of it rather than as a fresh draw.
        """
        key = (method, _key(path))
        with self._lock:
            self.requests += 1
            self.methods_seen[method] += 1
            nth = self._seen[key]
            self._seen[key] += 1
            eligible = self.methods is None or method in self.methods
            draw = random.Random(f"{self.seed}|{method}|{key[1]}|{nth}")
            capped = self.max_streak is not None and self._streak[key] >= self.max_streak
            if capped or not eligible or not self.kinds or draw.random() >= self.rate:
                self._streak[key] = 0
                return None, 0
            self._streak[key] += 1
            kind = draw.choice(self.kinds)
            self.faults[kind] += 1
            return kind, draw.choice((0, 1))

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self.log.append(exchange)

    def rewrite_location(self, value: str) -> str:
        """Point Location headers that name the upstream at the proxy instead."""
        for scheme in ("http://", "https://"):
            prefix = f"{scheme}{self.upstream}"
            if value.startswith(prefix):
                return f"http://{self.address}{value[len(prefix) :]}"
        return value


_UPLOAD_SESSION = re.compile(r"(/blobs/uploads/)[^/?]+")


def _key(path: str) -> str:
    """A request's identity without its upload session: the path with the session id
    blanked, and of the query only the digest (``_state`` changes with every session)."""
    base, _, query = path.partition("?")
    base = _UPLOAD_SESSION.sub(r"\1*", base)
    digest = [p for p in query.split("&") if p.startswith("digest=")]
    return base + ("?" + digest[0] if digest else "")


class _Handler(AnyMethodHandler):
    proxy: FaultProxy
    server_version = "faultproxy"
    hangups = (OSError, ValueError)  # the client gave up, or we reset it

    # -- the exchange ------------------------------------------------------------------------

    def _handle(self) -> None:
        proxy = self.proxy
        if proxy._in_outage(self.command):
            self._reset()
            return
        fault, retry_after = proxy._decide(self.command, self.path)
        if proxy.latency:
            time.sleep(proxy.latency)
        if fault == "reset_request":
            proxy._record(Exchange(self.command, self.path, fault, None))
            self._reset()
            return
        body = self._read_body()
        if fault in ("500", "502", "503", "429"):
            proxy._record(Exchange(self.command, self.path, fault, None))
            self._answer_fault(int(fault), retry_after)
            return
        if fault == "stall":
            proxy._record(Exchange(self.command, self.path, fault, None))
            time.sleep(proxy.stall)
            self.close_connection = True
            return
        try:
            status, reason, headers, data = self._forward(body)
        except OSError:
            proxy._record(Exchange(self.command, self.path, "upstream_error", None))
            self._answer_fault(502, None)
            return
        proxy._record(Exchange(self.command, self.path, fault, status))
        head = self._head(status, reason, headers, len(data))
        if fault == "reset_response":
            self.wfile.write(head[: max(1, len(head) // 2)])
            self._reset()
            return
        if fault == "truncate":
            if self.command == "HEAD" or not data:
                self.wfile.write(head[: max(1, len(head) // 2)])
                self._reset()
                return
            self.wfile.write(head + data[: len(data) // 2])
            self.close_connection = True
            return
        if self.proxy.dribble and self.command != "HEAD" and data:
            self.wfile.write(head)
            for i in range(len(data)):
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                time.sleep(self.proxy.dribble)
            return
        self.wfile.write(head if self.command == "HEAD" else head + data)

    def _read_body(self) -> bytes:
        if self.proxy.throttle:
            return self._read_throttled(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _read_throttled(self, length: int) -> bytes:
        """Read a body at ``throttle`` bytes per second, in small pieces."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        parts, left, piece = [], length, 16384
        start, got = time.monotonic(), 0
        while left:
            data = self.rfile.read(min(piece, left))
            if not data:
                break
            parts.append(data)
            left -= len(data)
            got += len(data)
            ahead = got / self.proxy.throttle - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
        return b"".join(parts)

    def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        proxy = self.proxy
        conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Host"] = proxy.upstream
            if body or self.command in ("PUT", "POST", "PATCH"):
                headers["Content-Length"] = str(len(body))
            path = self.path
            if proxy.refuse_mounts and self.command == "POST" and "mount=" in path:
                path = path.split("?", 1)[0]
                with proxy._lock:
                    proxy.mounts_refused += 1
            conn.request(self.command, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            out = []
            for k, v in resp.getheaders():
                if k.lower() in _HOP_BY_HOP and not (
                    self.command == "HEAD" and k.lower() == "content-length"
                ):
                    continue
                out.append((k, proxy.rewrite_location(v) if k.lower() == "location" else v))
            return resp.status, resp.reason, out, data
        finally:
            conn.close()

    def _head(self, status: int, reason: str, headers: list[tuple[str, str]], length: int) -> bytes:
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines += [f"{k}: {v}" for k, v in headers]
        if self.command != "HEAD":
            lines.append(f"Content-Length: {length}")
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _answer_fault(self, status: int, retry_after: int | None) -> None:
        body = b'{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}'
        if status == 429:
            body = b'{"errors":[{"code":"TOOMANYREQUESTS","message":"injected fault"}]}'
        headers = [("Content-Type", "application/json")]
        if retry_after is not None and status == 429:
            headers.append(("Retry-After", str(retry_after)))
        reason = http.client.responses.get(status, "Error")
        head = self._head(status, reason, headers, len(body))
        self.wfile.write(head if self.command == "HEAD" else head + body)

    def _reset(self) -> None:
        """Close with RST rather than FIN: what a crashed peer or a middlebox produces."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.wfile.flush()
            self.rfile.close()
            self.wfile.close()
            self.connection.close()
        except OSError:
            pass


# -- checking the registry directly (bypassing the proxy) --------------------------------------

_ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)

TagKey = tuple[str, str]  # (repository path, tag)


def snapshot_tags(base_url: str) -> dict[TagKey, str]:
    """Every tag of every repository and the digest it points at, read from the registry."""
    out: dict[TagKey, str] = {}
    with httpx.Client(base_url=base_url, timeout=30) as client:
        repos: list[str] = []
        page: str | None = "/v2/_catalog?n=1000"
        while page:
            resp = client.get(page)
            resp.raise_for_status()
            repos += resp.json().get("repositories") or []
            link = resp.links.get("next", {}).get("url")
            page = link if link and link.startswith("/") else None
        for repo in repos:
            tags = client.get(f"/v2/{repo}/tags/list")
            if tags.status_code == 404:
                continue
            tags.raise_for_status()
            for tag in tags.json().get("tags") or []:
                head = client.head(f"/v2/{repo}/manifests/{tag}", headers={"Accept": _ACCEPT})
                if head.status_code == 404:
                    continue  # deleted between listing and reading
                head.raise_for_status()
                out[(repo, tag)] = head.headers["Docker-Content-Digest"]
    return out


def broken_tags(base_url: str, tags: Mapping[TagKey, str]) -> list[str]:
    """Tags that are not fully pullable from their own repository, with the reason.

    A list is whole when each child manifest is in the list's repository and each child's
    config and layers are there too; an image when its blobs are. Results are memoised per
    (repository, digest), so auditing hundreds of tags stays cheap.
    """
    problems: list[str] = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        manifests: dict[TagKey, dict[str, Any] | None] = {}
        blobs: dict[TagKey, bool] = {}

        def manifest(repo: str, digest: str) -> dict[str, Any] | None:
            key = (repo, digest)
            if key not in manifests:
                resp = client.get(f"/v2/{repo}/manifests/{digest}", headers={"Accept": _ACCEPT})
                manifests[key] = json.loads(resp.content) if resp.status_code == 200 else None
            return manifests[key]

        def blob(repo: str, digest: str) -> bool:
            key = (repo, digest)
            if key not in blobs:
                blobs[key] = client.head(f"/v2/{repo}/blobs/{digest}").status_code == 200
            return blobs[key]

        def image_problem(repo: str, digest: str) -> str | None:
            doc = manifest(repo, digest)
            if doc is None:
                return f"manifest {digest} missing"
            for d in [doc.get("config") or {}, *(doc.get("layers") or [])]:
                if d.get("digest") and not blob(repo, d["digest"]):
                    return f"blob {d['digest']} of {digest} missing"
            return None

        for (repo, tag), digest in sorted(tags.items()):
            doc = manifest(repo, digest)
            if doc is None:
                problems.append(f"{repo}:{tag}: its manifest {digest} cannot be read")
                continue
            if "manifests" in doc:
                for child in doc["manifests"]:
                    why = image_problem(repo, child["digest"])
                    if why:
                        problems.append(f"{repo}:{tag} -> list {digest}: child {why}")
            else:
                why = image_problem(repo, digest)
                if why:
                    problems.append(f"{repo}:{tag}: {why}")
    return problems
