"""A scriptable fake registry for hostile-server tests.

Everywhere else the tests use the real ``docker-registry``; here a fake is the right tool,
because no real registry lies on purpose. Each test says, route by route, what the server
answers: wrong bytes for a digest, a ``Docker-Content-Digest`` that contradicts the body, a
body that never ends, a token server that talks nonsense, a redirect to another host. The
server records every request (with headers) and counts the body bytes it managed to send,
so tests can prove what mplat sent and how much it read.

Stdlib only (``http.server`` in a thread) on a free 127.0.0.1 port, plain HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import json
import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.support.localserver import AnyMethodHandler, ServerThread

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

WRITE_METHODS = frozenset({"PUT", "POST", "PATCH", "DELETE"})


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Request:
    """One request as received (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    """What to answer. ``body`` may be an iterable of chunks for endless or huge bodies.

    ``length`` is the Content-Length to declare for an iterable body (None: close-delimited).
    ``hold_after``: once that many body bytes are sent, wait up to ``hold_seconds`` for the
    client to hang up before sending more, so a test can tell a client that stops reading
    from one that reads everything, whatever the kernel's socket buffers absorb.
    """

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""
    length: int | None = None
    hold_after: int | None = None
    hold_seconds: float = 3.0


Route = Reply | Callable[[Request], Reply]


@dataclass
class SendStats:
    """Per path: body bytes written, and whether the client hung up while we held."""

    sent: Counter[str] = field(default_factory=Counter)
    hung_up: set[str] = field(default_factory=set)


def error_reply(status: int, code: str, message: str) -> Reply:
    body = canonical_json({"errors": [{"code": code, "message": message}]})
    return Reply(status, {"Content-Type": "application/json"}, body)


@dataclass(frozen=True)
class FakeImage:
    """A valid single-platform image, built locally (never pushed anywhere)."""

    manifest: bytes
    media_type: str
    config: bytes
    layer: bytes

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)

    @property
    def config_digest(self) -> str:
        return sha256_digest(self.config)

    def descriptor(self, platform: Mapping[str, str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": len(self.manifest),
        }
        if platform is not None:
            out["platform"] = dict(platform)
        return out


def make_image(os: str = "linux", architecture: str = "amd64", salt: str = "") -> FakeImage:
    config = canonical_json(
        {
            "architecture": architecture,
            "os": os,
            "config": {"Labels": {"salt": salt}},
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    )
    layer = f"layer {os}/{architecture} {salt}".encode()
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {
                "mediaType": DOCKER_CONFIG,
                "size": len(config),
                "digest": sha256_digest(config),
            },
            "layers": [
                {"mediaType": DOCKER_LAYER, "size": len(layer), "digest": sha256_digest(layer)}
            ],
        }
    )
    return FakeImage(manifest, DOCKER_MANIFEST, config, layer)


class FakeRegistry(ServerThread):
    """A registry whose every answer the test scripts; unscripted paths answer 404.

    ``basic_auth=(user, password)`` makes every ``/v2/`` route except ``/v2/`` itself demand
    that Basic credential (401 with a Basic challenge otherwise); ``bearer_realm`` makes
    them answer 401 with a Bearer challenge pointing there, whatever is sent.
    """

    def __init__(
        self,
        *,
        basic_auth: tuple[str, str] | None = None,
        bearer_realm: str | None = None,
    ) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.requests: list[Request] = []
        self.stats = SendStats()
        self.basic_auth = basic_auth
        self.bearer_realm = bearer_realm
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def bound_handler(self) -> type[BaseHTTPRequestHandler]:
        return type("_BoundHandler", (_Handler,), {"fake": self})

    # -- scripting ---------------------------------------------------------------------------

    def route(self, method: str, path: str, reply: Route) -> None:
        """Answer ``method path`` (path without query) with ``reply``. A GET route also
        answers HEAD (same status and headers, no body) unless HEAD has its own route."""
        self.routes[(method.upper(), path)] = reply

    def serve_manifest(
        self,
        repository: str,
        refs: Iterable[str],
        data: bytes,
        media_type: str,
        *,
        digest_header: str | None = "",
    ) -> None:
        """Serve ``data`` at each tag or digest in ``refs``. ``digest_header`` "" sends the
        true digest, None sends no Docker-Content-Digest, anything else is sent as is."""
        headers = {"Content-Type": media_type}
        if digest_header is not None:
            headers["Docker-Content-Digest"] = digest_header or sha256_digest(data)
        for ref in refs:
            self.route("GET", f"/v2/{repository}/manifests/{ref}", Reply(200, headers, data))

    def serve_blob(self, repository: str, digest: str, data: bytes) -> None:
        headers = {"Content-Type": "application/octet-stream", "Docker-Content-Digest": digest}
        self.route("GET", f"/v2/{repository}/blobs/{digest}", Reply(200, headers, data))

    def serve_image(self, repository: str, tag: str, image: FakeImage) -> None:
        """A well-behaved image: manifest by tag and digest, config and layer blobs."""
        self.serve_manifest(repository, (tag, image.digest), image.manifest, image.media_type)
        self.serve_blob(repository, image.config_digest, image.config)
        self.serve_blob(repository, sha256_digest(image.layer), image.layer)

    def serve_tag_pages(
        self, repository: str, pages: list[list[str]], link: Callable[[int], str]
    ) -> None:
        """A tag list in ``pages``, each but the last pointing on (``Link: rel="next"``) to
        ``link(k)``, which must end in ``last=p<k>``: the page asked for is read from it."""

        def tag_page(request: Request) -> Reply:
            page = int(request.query.get("last", "p0")[1:])
            headers = {"Content-Type": "application/json"}
            if page + 1 < len(pages):
                headers["Link"] = f'<{link(page + 1)}>; rel="next"'
            body = canonical_json({"name": repository, "tags": pages[page]})
            return Reply(200, headers, body)

        self.route("GET", f"/v2/{repository}/tags/list", tag_page)

    # -- observations ------------------------------------------------------------------------

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    @property
    def writes(self) -> list[Request]:
        """Requests that could change the registry: a hostile read must lead to none."""
        return [r for r in self.requests if r.method in WRITE_METHODS]

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    # -- answering ---------------------------------------------------------------------------

    def _authorised(self, request: Request) -> Reply | None:
        """None when the request may proceed, else the 401 to send."""
        if request.path == "/v2/" or not request.path.startswith("/v2/"):
            return None
        if self.bearer_realm is not None:
            reply = error_reply(401, "UNAUTHORIZED", "authentication required")
            challenge = f'Bearer realm="{self.bearer_realm}",service="fake"'
            return Reply(401, {**reply.headers, "WWW-Authenticate": challenge}, reply.body)
        if self.basic_auth is not None:
            user, password = self.basic_auth
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if request.headers.get("authorization") != expected:
                reply = error_reply(401, "UNAUTHORIZED", "authentication required")
                challenge = 'Basic realm="fake"'
                return Reply(401, {**reply.headers, "WWW-Authenticate": challenge}, reply.body)
        return None

    def answer(self, request: Request) -> Reply:
        denied = self._authorised(request)
        if denied is not None:
            return denied
        route = self.routes.get((request.method, request.path))
        if route is None and request.method == "HEAD":
            route = self.routes.get(("GET", request.path))
        if route is None:
            if request.path == "/v2/":
                return Reply(200, {"Content-Type": "application/json"}, b"{}")
            code = "BLOB_UNKNOWN" if "/blobs/" in request.path else "MANIFEST_UNKNOWN"
            return error_reply(404, code, "not scripted")
        return route(request) if callable(route) else route


class _Handler(AnyMethodHandler):
    fake: FakeRegistry
    server_version = "fakeregistry"

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        self.fake._record(request)
        reply = self.fake.answer(request)
        self._send(request, reply)

    def _send(self, request: Request, reply: Reply) -> None:
        body = reply.body
        chunks: Iterable[bytes] = [body] if isinstance(body, bytes) else body
        declared = len(body) if isinstance(body, bytes) else reply.length
        explicit = any(k.lower() == "content-length" for k in reply.headers)
        self.send_response(reply.status)
        for k, v in reply.headers.items():
            self.send_header(k, v)
        if explicit:  # A scripted Content-Length (HEAD answers) is sent as written.
            pass
        elif declared is not None:
            self.send_header("Content-Length", str(declared))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if request.method == "HEAD":
            return
        stats = self.fake.stats
        held = False
        for chunk in chunks:
            if not chunk:
                continue
            try:
                self.wfile.write(chunk)
            except OSError:
                # The client reset the connection while we were still sending: it hung up.
                stats.hung_up.add(request.path)
                self.close_connection = True
                return
            stats.sent[request.path] += len(chunk)
            if (
                reply.hold_after is not None
                and not held
                and stats.sent[request.path] >= reply.hold_after
            ):
                held = True
                if self._client_hung_up(reply.hold_seconds):
                    stats.hung_up.add(request.path)
                    self.close_connection = True
                    return

    def _client_hung_up(self, seconds: float) -> bool:
        """Wait until the client closes its end (readable with EOF or reset), or time out."""
        deadline = time.monotonic() + seconds
        sock = self.connection
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([sock], [], [], left)
            if not readable:
                return False
            try:
                if sock.recv(65536, socket.MSG_PEEK) == b"":
                    return True
                sock.recv(65536)  # Stray bytes: discard and keep waiting.
            except OSError:
                return True
        return False
