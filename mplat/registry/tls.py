"""TLS settings per registry: which certificates to trust, and saying so when one is not.

Apart from the request pipeline because the contexts are shared across registries (see
:func:`ssl_context`) and because a certificate failure must never be mistaken for "this
server speaks plain HTTP": the scheme probe and every request ask :func:`is_cert_error`.
"""

from __future__ import annotations

import functools
import os
import ssl

from mplat.registry.errors import RegistryError


def context_for(
    registry: str, insecure: bool, ca_file: str | None, *, http2: bool = False
) -> ssl.SSLContext:
    """The context for one registry's settings; an unreadable CA file is the user's error.

    ``http2`` asks for the HTTP/2 transport's own context: httpcore sets the ALPN protocols
    on the context it is given, so it must not be the one the HTTP/1.1-only lean transport
    uses (which must never be offered ``h2``).
    """
    try:
        return ssl_context(insecure, ca_file, _file_stamp(ca_file), http2)
    except (OSError, ssl.SSLError) as exc:
        raise RegistryError(
            registry, None, f"cannot load ca_file {ca_file}: {exc.__class__.__name__}"
        ) from None


@functools.lru_cache(maxsize=32)
def ssl_context(
    insecure: bool, ca_file: str | None, stamp: tuple[int, int] | None, http2: bool = False
) -> ssl.SSLContext:
    """One context per setting, shared by every registry: each loads the system trust
    store (about a megabyte), and a thousand registries must not mean a thousand copies."""
    ctx = ssl.create_default_context()
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ca_file:
        ctx.load_verify_locations(cafile=ca_file)
    ctx.set_alpn_protocols(["h2", "http/1.1"] if http2 else ["http/1.1"])
    return ctx


def _file_stamp(path: str | None) -> tuple[int, int] | None:
    """Size and mtime, so a CA file rewritten in place is loaded again, not served stale."""
    if not path:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def is_cert_error(exc: Exception) -> bool:
    """Whether a connection failed because a certificate was not trusted."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "certificate verify failed" in repr(exc).lower()


def untrusted(registry: str) -> RegistryError:
    """The error for a registry whose certificate failed verification, with both remedies."""
    return RegistryError(
        registry,
        None,
        "TLS certificate is not trusted; add the CA with "
        f'registries."{registry}".ca_file, or set registries."{registry}"'
        ".insecure: true if you accept an unverified connection",
    )
