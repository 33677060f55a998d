"""TLS settings and the scheme choice, without a network: HTTPS always; plain HTTP only for
loopback or ``insecure`` hosts that do not speak TLS, never after a certificate failure.

A real registry serving a certificate from a CA made here is in tests/e2e/registry/test_tls.py.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from mplat.registry.errors import RegistryError
from mplat.registry.retry import RetryPolicy
from mplat.registry.session import Session

T = TypeVar("T")


def _refuse_tls(cert_error: bool) -> tuple[list[str], httpx.MockTransport]:
    """A transport that fails every HTTPS handshake (as a bad certificate, or as no TLS at all)."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.scheme == "https":
            cause: Exception = (
                ssl.SSLCertVerificationError(1, "certificate verify failed")
                if cert_error
                else ssl.SSLError(1, "wrong version number")
            )
            raise httpx.ConnectError("handshake failed", request=request) from cause
        return httpx.Response(200)

    return seen, httpx.MockTransport(handler)


def _scheme(
    host: str,
    *,
    insecure: bool,
    cert_error: bool,
    then: Callable[[Session], Coroutine[Any, Any, T]],
) -> tuple[list[str], T | RegistryError]:
    seen, mock = _refuse_tls(cert_error)

    async def main() -> T | RegistryError:
        t = Session(
            host,
            api_host=host,
            insecure=insecure,
            transport=mock,
            retry=RetryPolicy(attempts=2, base_delay=0.01),
        )
        try:
            return await then(t)
        except RegistryError as exc:
            return exc
        finally:
            await t.aclose()

    return seen, asyncio.run(main())


async def _get(t: Session) -> int:
    return (await t.request("GET", "/v2/", repository=None)).status_code


@pytest.mark.parametrize(
    "host",
    [
        "registry.example.test",
        "registry.example.test:5000",
        "localhost.example.test",
        "127.0.0.1.nip.io:5000",
        "10.0.0.7:5000",
        "[fe80::1]:5000",
    ],
)
@pytest.mark.parametrize("cert_error", [True, False])
def test_non_loopback_hosts_never_fall_back_to_plain_http(host: str, cert_error: bool) -> None:
    seen, result = _scheme(host, insecure=False, cert_error=cert_error, then=_get)
    assert isinstance(result, RegistryError)
    assert seen and all(url.startswith(f"https://{host}/") for url in seen)
    if cert_error:
        assert "TLS certificate is not trusted" in str(result)
    else:
        assert len(seen) == 2  # Retried, over HTTPS again, then a clean error.


def test_loopback_falls_back_only_when_tls_is_not_spoken() -> None:
    seen, result = _scheme("127.0.0.1:5000", insecure=False, cert_error=False, then=_get)
    assert result == 200
    assert seen == ["https://127.0.0.1:5000/v2/", "http://127.0.0.1:5000/v2/"]

    seen, result = _scheme("localhost:5000", insecure=False, cert_error=True, then=_get)
    assert isinstance(result, RegistryError) and "ca_file" in str(result)
    assert seen == ["https://localhost:5000/v2/"]


def test_insecure_remote_host_may_use_plain_http() -> None:
    seen, result = _scheme("registry.example.test", insecure=True, cert_error=False, then=_get)
    assert result == 200
    assert seen[-1] == "http://registry.example.test/v2/"


def test_client_for_remote_host_uses_https_without_probing() -> None:
    async def base(t: Session) -> str:
        return await t.base_url()

    seen, result = _scheme("registry.example.test", insecure=False, cert_error=True, then=base)
    assert result == "https://registry.example.test"
    assert seen == []


def test_transport_rejects_unreadable_ca_file(tmp_path: Path) -> None:
    bad = tmp_path / "nope.pem"
    bad.write_text("not a certificate")
    for path in (bad, tmp_path / "missing.pem"):
        with pytest.raises(RegistryError) as info:
            Session("r.example", api_host="r.example", ca_file=str(path))
        assert str(path) in str(info.value) and "ca_file" in str(info.value)


def test_the_http2_context_is_not_the_lean_transports() -> None:
    """httpcore sets ALPN on the context it is given; the lean transport's must stay
    HTTP/1.1-only, so the two never share one."""
    from mplat.registry.tls import context_for

    lean = context_for("r.example", False, None)
    h2 = context_for("r.example", False, None, http2=True)
    assert lean is not h2
    assert lean is context_for("other.example", False, None)  # Still shared across registries.
    assert h2 is context_for("other.example", False, None, http2=True)
