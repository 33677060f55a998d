"""Run Debian's real ``docker-registry`` (distribution 2.8.2) as a subprocess for tests.

Tests talk to a real registry rather than a mock so that protocol corners (Accept
negotiation, child validation, delete semantics) are exercised exactly as in production.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

REGISTRY_BINARY = Path("/usr/bin/docker-registry")
MISSING_BINARY_MESSAGE = (
    f"{REGISTRY_BINARY} not found: the test suite needs Debian's real registry; "
    "install it with `apt-get install -y docker-registry`"
)

# A constant secret stops the registry from warning about a generated one and keeps upload
# session URLs (signed with it) valid across a restart of the same instance.
_HTTP_SECRET = "mplat-tests-3f9c1d2e7a4b4c60a1e5d8f2b7c9e0a1"


class RegistryBinaryMissing(RuntimeError):
    """Raised when /usr/bin/docker-registry is not installed."""


@dataclass(frozen=True)
class TokenAuthConfig:
    """``auth.token`` settings: the registry trusts JWTs signed by a key in ``rootcertbundle``."""

    realm: str
    service: str
    issuer: str
    rootcertbundle: Path


@dataclass
class RegistryServer:
    """One registry process with its own config, storage and log under ``root``."""

    root: Path
    delete_enabled: bool = True
    htpasswd: dict[str, str] | None = None
    token_auth: TokenAuthConfig | None = None
    tls: tuple[Path, Path] | None = None
    host: str = "127.0.0.1"
    port: int = 0
    access_log: bool = False
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log_handle: IO[bytes] | None = field(default=None, init=False, repr=False)

    # -- paths -------------------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.root / "config.yml"

    @property
    def storage_path(self) -> Path:
        return self.root / "storage"

    @property
    def log_path(self) -> Path:
        return self.root / "registry.log"

    @property
    def htpasswd_path(self) -> Path:
        return self.root / "htpasswd"

    # -- addresses ---------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """``host:port`` as used in image references."""
        if self.port == 0:
            raise RuntimeError("registry not started: port not chosen yet")
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.address}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- config ------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The registry configuration as data (written as JSON, which is valid YAML)."""
        http: dict[str, Any] = {"addr": f"{self.host}:{self.port}", "secret": _HTTP_SECRET}
        if self.tls is not None:
            cert, key = self.tls
            http["tls"] = {"certificate": str(cert), "key": str(key)}
        cfg: dict[str, Any] = {
            "version": "0.1",
            "log": {"level": "warn", "accesslog": {"disabled": not self.access_log}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage_path)},
                "delete": {"enabled": self.delete_enabled},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": http,
        }
        if self.htpasswd is not None and self.token_auth is not None:
            raise ValueError("htpasswd and token_auth are mutually exclusive")
        if self.htpasswd is not None:
            cfg["auth"] = {"htpasswd": {"realm": "mplat-test", "path": str(self.htpasswd_path)}}
        if self.token_auth is not None:
            t = self.token_auth
            cfg["auth"] = {
                "token": {
                    "realm": t.realm,
                    "service": t.service,
                    "issuer": t.issuer,
                    "rootcertbundle": str(t.rootcertbundle),
                }
            }
        return cfg

    def _write_files(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.storage_path.mkdir(exist_ok=True)
        if self.htpasswd is not None:
            lines = [htpasswd_line(user, pw) for user, pw in self.htpasswd.items()]
            self.htpasswd_path.write_text("".join(line + "\n" for line in lines))
        self.config_path.write_text(json.dumps(self.config(), indent=2) + "\n")

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 15) -> None:
        """Spawn the registry and wait until ``GET /v2/`` answers 200 or 401."""
        if self.running:
            return
        if not REGISTRY_BINARY.exists():
            raise RegistryBinaryMissing(MISSING_BINARY_MESSAGE)
        pick_port = self.port == 0
        # A port chosen by binding and releasing can be taken by a parallel process before the
        # registry binds it; retry a couple of times rather than fail the test session.
        for attempt in range(3):
            if pick_port:
                self.port = _free_port(self.host)
            self._write_files()
            self._spawn()
            try:
                self._wait_ready(timeout)
                return
            except RuntimeError:
                in_use = "address already in use" in self.log_text()
                self.stop()
                if not (pick_port and in_use and attempt < 2):
                    raise
                self.port = 0

    def _spawn(self) -> None:
        self._log_handle = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [str(REGISTRY_BINARY), "serve", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            cwd=self.root,
        )

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        # Readiness only: certificate trust is the tests' business, not the poller's.
        with httpx.Client(verify=False, timeout=1.0) as client:
            while True:
                proc = self._process
                if proc is None or proc.poll() is not None:
                    code = None if proc is None else proc.returncode
                    raise RuntimeError(
                        f"docker-registry exited early (code {code}); log:\n{self.log_text()}"
                    )
                try:
                    resp = client.get(f"{self.url}/v2/")
                    if resp.status_code in (200, 401):
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"docker-registry not ready after {timeout}s; log:\n{self.log_text()}"
                    )
                time.sleep(0.05)

    def stop(self) -> None:
        """Terminate the process (by its pid), escalating to kill if it lingers."""
        proc, self._process = self._process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def log_text(self) -> str:
        """The registry's combined stdout/stderr so far, for failure messages."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self) -> RegistryServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def htpasswd_line(user: str, password: str) -> str:
    """A bcrypt (cost 5, cheap for tests) htpasswd entry, via ``bcrypt`` or ``htpasswd -B``."""
    try:
        import bcrypt  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        tool = shutil.which("htpasswd")
        if tool is None:
            raise RuntimeError(
                "need the `bcrypt` module or `htpasswd` (apt-get install -y apache2-utils)"
            ) from None
        out = subprocess.run(
            [tool, "-nbB", "-C", "5", user, password],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return out.strip()
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
    return f"{user}:{hashed}"


def write_self_signed_cert(
    folder: Path, hosts: Iterable[str] = ("127.0.0.1", "localhost"), name: str = "registry"
) -> tuple[Path, Path]:
    """Write a self-signed CA-capable cert + key (PEM) so it can serve TLS and be trusted."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"mplat-test-{name}")])
    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path = folder / f"{name}.crt"
    key_path = folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
