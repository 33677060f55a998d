"""A small token server for distribution's ``auth.token`` scheme, for tests against a real registry.

It implements what registries and clients use of the token spec (distribution
``docs/spec/auth/token.md``, ``oauth.md``): ``GET /token`` with optional Basic credentials,
``service`` and repeated ``scope`` parameters; ``POST /token`` with a form
``grant_type=refresh_token`` or ``password``. Tokens are JWTs signed (RS256 or ES256) with a key
made here, carrying the signing certificate in the ``x5c`` header, which the registry trusts
through ``rootcertbundle`` (see :meth:`TokenServer.auth_config`).

Tests steer it through plain attributes (``expires_in``, ``valid_for``, ``garbage``,
``post_enabled``) and read :attr:`TokenServer.log` to see what the client asked for.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import fnmatch
import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from tests.support.localserver import ServerThread
from tests.support.registry import TokenAuthConfig

Algorithm = Literal["RS256", "ES256"]
Garbage = Literal["not-json", "no-token", "bad-token", "error-500"]
ANONYMOUS = ""
"""The user name grants are looked up under when a request carries no credentials."""
REGISTRY_LEEWAY = 60
"""distribution accepts a token until 60 s after its ``exp``; ``valid_for`` subtracts this."""

Grants = Mapping[str, Mapping[str, tuple[str, ...]]]
"""user -> {repository glob -> actions}; ``("*",)`` grants whatever is asked."""


@dataclass(frozen=True)
class TokenRequest:
    """One request the server answered, as tests need it (secrets are not recorded)."""

    method: str
    user: str | None  # None when the credentials were refused
    grant_type: str | None  # None for GET
    service: str | None
    scopes: tuple[str, ...]
    status: int
    offline: bool = False


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def parse_scope(scope: str) -> tuple[str, str, tuple[str, ...]] | None:
    """``type:name:actions``; a name may hold ``host:port``: split at the first and last ``:``."""
    kind, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not (sep and sep2 and kind and name):
        return None
    return kind.split("(", 1)[0], name, tuple(a for a in actions.split(",") if a)


@dataclass
class TokenServer(ServerThread):
    """A threaded HTTP token server on 127.0.0.1; start/stop it or use it as a context manager."""

    folder: Path
    users: dict[str, str] = field(default_factory=dict)
    grants: Grants = field(default_factory=dict)
    algorithm: Algorithm = "RS256"
    service: str = "mplat-test-registry"
    issuer: str = "mplat-test-issuer"
    expires_in: int | None = 300
    """What the response claims (``None`` leaves ``expires_in`` out)."""
    valid_for: int | None = None
    """If set, tokens really expire (as the registry sees it) this many seconds after issue."""
    garbage: Garbage | None = None
    post_enabled: bool = True
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    """refresh (identity) token -> user, from ``offline_token=true`` or :meth:`add_identity`."""
    log: list[TokenRequest] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    """Every access token handed out, so tests can check none leaks into output."""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
        if self.algorithm == "RS256":
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mplat-test-token-signer")])
        now = dt.datetime.now(dt.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.cert_path.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    # -- configuration -------------------------------------------------------------------------

    @property
    def cert_path(self) -> Path:
        return self.folder / "token-signer.crt"

    @property
    def realm(self) -> str:
        return f"http://{self.address}/token"

    def auth_config(self) -> TokenAuthConfig:
        """What to pass as ``RegistryServer(token_auth=...)``; the server must be started."""
        return TokenAuthConfig(self.realm, self.service, self.issuer, self.cert_path)

    def add_identity(self, user: str) -> str:
        """Register and return a refresh (identity) token for ``user``, as a login would."""
        token = "idt-" + secrets.token_urlsafe(24)
        with self._lock:
            self.refresh_tokens[token] = user
        return token

    def requests(self, method: str | None = None) -> list[TokenRequest]:
        with self._lock:
            return [r for r in self.log if method is None or r.method == method]

    # -- tokens --------------------------------------------------------------------------------

    def _granted(self, user: str, scopes: list[str]) -> list[dict[str, Any]]:
        """The intersection of asked and granted actions, as the spec says (never an error)."""
        rules = self.grants.get(user, {})
        access = []
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None:
                continue
            kind, name, asked = parsed
            allowed: set[str] = set()
            for pattern, actions in rules.items():
                if fnmatch.fnmatchcase(name, pattern):
                    allowed |= set(asked) if "*" in actions else set(actions)
            granted = [a for a in asked if a in allowed]
            if granted:
                access.append({"type": kind, "name": name, "actions": granted})
        return access

    def _sign(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        ).encode("ascii")
        if isinstance(self._key, rsa.RSAPrivateKey):
            signature = self._key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            r, s = decode_dss_signature(self._key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return signing_input.decode("ascii") + "." + _b64url(signature)

    def make_token(self, user: str, scopes: list[str]) -> str:
        now = int(time.time())
        lifetime = self.expires_in or 60
        exp = now + lifetime
        if self.valid_for is not None:
            exp = now + self.valid_for - REGISTRY_LEEWAY
        header = {
            "typ": "JWT",
            "alg": self.algorithm,
            "x5c": [base64.b64encode(self._cert.public_bytes(serialization.Encoding.DER)).decode()],
        }
        claims = {
            "iss": self.issuer,
            "sub": user,
            "aud": self.service,
            "exp": exp,
            "nbf": now - 5,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": self._granted(user, scopes),
        }
        token = self._sign(header, claims)
        with self._lock:
            self.issued.append(token)
        return token

    # -- HTTP ----------------------------------------------------------------------------------

    def _record(self, entry: TokenRequest) -> None:
        with self._lock:
            self.log.append(entry)

    def handle(
        self, method: str, query: list[tuple[str, str]], form: dict[str, str], authz: str | None
    ) -> tuple[int, dict[str, Any] | str]:
        """Decide one answer (pure apart from the log and refresh tokens); used by the handler."""
        scopes = [v for k, v in query if k == "scope"]
        params = dict(query)
        grant_type = None
        offline = False
        user: str | None = ANONYMOUS
        if method == "POST":
            grant_type = form.get("grant_type")
            scopes = form.get("scope", "").split()
            service = form.get("service")
            offline = form.get("access_type") == "offline"
            if grant_type == "refresh_token":
                with self._lock:
                    user = self.refresh_tokens.get(form.get("refresh_token", ""))
            elif grant_type == "password":
                name = form.get("username", "")
                user = name if self.users.get(name) == form.get("password") else None
            else:
                user = None
        else:
            service = params.get("service")
            offline = params.get("offline_token") == "true"
            if authz is not None:
                user = self._basic_user(authz)
        status = 200 if user is not None else 401
        if self.garbage == "error-500":
            status = 500
        self._record(
            TokenRequest(method, user, grant_type, service, tuple(scopes), status, offline)
        )
        if status == 500:
            return 500, {"errors": [{"code": "UNKNOWN", "message": "token service broken"}]}
        if user is None:
            return 401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid credentials"}]}
        if self.garbage == "not-json":
            return 200, "<html><body>Welcome to our portal</body></html>"
        if self.garbage == "no-token":
            return 200, {"expires_in": 300, "hello": "world"}
        if self.garbage == "bad-token":
            return 200, {"token": "abc def\r\nX-Injected: 1", "expires_in": 300}
        token = self.make_token(user, scopes)
        body: dict[str, Any] = {"access_token": token}
        if method == "GET":
            body["token"] = token
            body["issued_at"] = dt.datetime.now(dt.UTC).isoformat()
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        if offline and user != ANONYMOUS:
            body["refresh_token"] = self.add_identity(user)
        return 200, body

    def _basic_user(self, authz: str) -> str | None:
        scheme, _, value = authz.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            name, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return name if name in self.users and self.users[name] == password else None

    poll_interval = 0.05

    def bound_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # Quiet: tests read TokenServer.log instead.

            def _answer(self, method: str) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                if url.path != "/token" or (method == "POST" and not server.post_enabled):
                    self._send(404, {"errors": [{"code": "NOT_FOUND", "message": "no"}]})
                    return
                form = dict(parse_qsl(raw)) if method == "POST" else {}
                status, body = server.handle(
                    method, parse_qsl(url.query), form, self.headers.get("Authorization")
                )
                self._send(status, body)

            def _send(self, status: int, body: dict[str, Any] | str) -> None:
                data = (body if isinstance(body, str) else json.dumps(body)).encode()
                self.send_response(status)
                ctype = "text/html" if isinstance(body, str) else "application/json"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

        return Handler
