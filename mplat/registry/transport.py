"""HTTP to one registry: scheme and TLS choice, authentication, retries, redaction.

This is the only module that talks to httpx. Everything above it speaks in repositories,
references and digests; everything here speaks in requests, and enforces the rules that
keep mplat safe on other people's registries: credentials only for their own registry,
bounded concurrency, bounded retries that honour ``Retry-After``, nothing secret in logs.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import ssl
import time
from collections.abc import AsyncIterable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from mplat import __version__
from mplat.reference import is_loopback_host
from mplat.registry.auth import AuthState, Challenge, basic_header, parse_challenges
from mplat.registry.credentials import Credential
from mplat.registry.errors import RegistryError, parse_error_body

log = logging.getLogger("mplat.http")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_SAFE_QUERY_KEYS = frozenset({"digest", "mount", "from", "n", "last", "service", "scope", "tag"})
USER_AGENT = f"mplat/{__version__}"


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retries: a cron job must finish, and a struggling registry must get air."""

    attempts: int = 5
    base_delay: float = 0.25
    max_delay: float = 8.0
    total: float = 90.0
    retry_after_cap: float = 60.0


@dataclass
class Notices:
    """Things the user should hear about that are not errors: waits, Warning headers, quotas.

    ``emit`` is called once per distinct message (the CLI prints to stderr); messages are
    kept so a plan can show them too.
    """

    emit: Callable[[str], None] | None = None
    messages: list[str] = field(default_factory=list)
    rate_limits: dict[str, str] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)

    def add(self, message: str) -> None:
        if message in self.messages:
            return
        self.messages.append(message)
        if self.emit:
            self.emit(message)

    def count(self, method: str) -> None:
        self.requests[method] = self.requests.get(method, 0) + 1


def redact_url(url: str) -> str:
    """Keep a URL readable in logs while hiding query values that could be signatures."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(k, v if k in _SAFE_QUERY_KEYS else "REDACTED") for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query, safe=":/,")))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After is delta-seconds or an HTTP-date (RFC 9110); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def _is_tls_plaintext_mismatch(exc: Exception) -> bool:
    text = repr(exc).lower()
    return any(s in text for s in ("wrong version number", "record layer", "http request"))


def _is_cert_error(exc: Exception) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "certificate verify failed" in repr(exc).lower()


class Transport:
    """Requests to one registry with auth, retries and concurrency bounds applied."""

    def __init__(
        self,
        registry: str,
        *,
        api_host: str,
        insecure: bool = False,
        ca_file: str | None = None,
        credential: Callable[[], Credential | None] | None = None,
        parallelism: int = 8,
        retry: RetryPolicy | None = None,
        notices: Notices | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.registry = registry
        self.api_host = api_host
        self.insecure = insecure
        self.ca_file = ca_file
        self.retry = retry or RetryPolicy()
        self.notices = notices or Notices()
        self._credential_loader = credential
        self._auth: AuthState | None = None
        self._auth_lock = asyncio.Lock()
        self._scheme: str | None = None
        self._scheme_lock = asyncio.Lock()
        self._sem = asyncio.Semaphore(parallelism)
        verify: ssl.SSLContext | bool = True
        if insecure:
            verify = False
        else:
            ctx = ssl.create_default_context()
            if ca_file:
                try:
                    ctx.load_verify_locations(cafile=ca_file)
                except (OSError, ssl.SSLError) as exc:
                    raise RegistryError(
                        registry, None, f"cannot load ca_file {ca_file}: {exc.__class__.__name__}"
                    ) from None
            verify = ctx
        self._client = httpx.AsyncClient(
            verify=verify,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=parallelism, max_keepalive_connections=parallelism),
            headers={"User-Agent": USER_AGENT},
            transport=transport,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- scheme -------------------------------------------------------------------------

    async def base_url(self) -> str:
        """HTTPS unless the user said insecure or the host is loopback, as docker does.

        Even then HTTPS is tried first; plain HTTP is used only when the server does not
        speak TLS at all, never because a certificate failed verification.
        """
        if self._scheme is None:
            async with self._scheme_lock:
                if self._scheme is None:
                    self._scheme = await self._probe_scheme()
        return f"{self._scheme}://{self.api_host}"

    async def _probe_scheme(self) -> str:
        if not (self.insecure or is_loopback_host(self.api_host)):
            return "https"
        try:
            resp = await self._client.get(f"https://{self.api_host}/v2/", timeout=5.0)
            await resp.aclose()
            return "https"
        except httpx.ConnectError as exc:
            if _is_cert_error(exc) and not self.insecure:
                raise self._tls_error() from None
            return "http"
        except httpx.TransportError:
            return "http"

    def _tls_error(self) -> RegistryError:
        return RegistryError(
            self.registry,
            None,
            "TLS certificate is not trusted; add the CA with "
            f'registries."{self.registry}".ca_file, or set registries."{self.registry}"'
            ".insecure: true if you accept an unverified connection",
        )

    # -- auth ---------------------------------------------------------------------------

    def _auth_state(self) -> AuthState:
        if self._auth is None:
            cred = self._credential_loader() if self._credential_loader else None
            self._auth = AuthState(credential=cred)
        return self._auth

    async def _answer_challenge(
        self, challenges: list[Challenge], scopes: frozenset[str], repository: str | None
    ) -> bool:
        """Obtain what the registry asked for; False if there is nothing more to try."""
        state = self._auth_state()
        async with self._auth_lock:
            for ch in challenges:
                if ch.scheme == "bearer" and ch.params.get("realm"):
                    state.scheme = "bearer"
                    state.bearer = ch
                    await self._fetch_token(state, ch, scopes, repository)
                    return True
            for ch in challenges:
                if ch.scheme == "basic":
                    if state.scheme == "basic" or not (
                        state.credential and state.credential.username
                    ):
                        return False
                    state.scheme = "basic"
                    return True
        return False

    async def _fetch_token(
        self, state: AuthState, ch: Challenge, scopes: frozenset[str], repository: str | None
    ) -> None:
        realm = ch.params["realm"]
        service = ch.params.get("service")
        scope_list = sorted(scopes) or ([ch.params["scope"]] if ch.params.get("scope") else [])
        cred = state.credential
        resp: httpx.Response | None = None
        if cred and (cred.identity_token or state.refresh_token):
            form = {
                "grant_type": "refresh_token",
                "refresh_token": state.refresh_token or cred.identity_token,
                "client_id": "mplat",
                "scope": " ".join(scope_list),
            }
            if service:
                form["service"] = service
            resp = await self._token_request("POST", realm, repository, data=form)
            if resp.status_code in (404, 405):
                resp = None  # Some token servers only do GET; fall through.
        if resp is None:
            params: list[tuple[str, str]] = []
            if service:
                params.append(("service", service))
            params += [("scope", s) for s in scope_list]
            headers = {}
            if cred and cred.username and cred.password:
                headers["Authorization"] = basic_header(cred.username, cred.password)
                params.append(("account", cred.username))
            resp = await self._token_request(
                "GET", realm, repository, params=params, headers=headers
            )
        if resp.status_code in (401, 403):
            raise RegistryError(
                self.registry,
                repository,
                "the token server refused the credentials"
                + (f" from {cred.source}" if cred and cred.source else ""),
                status=resp.status_code,
                errors=parse_error_body(resp.content),
            )
        if resp.status_code != 200:
            raise RegistryError(
                self.registry,
                repository,
                "the token server failed",
                status=resp.status_code,
                errors=parse_error_body(resp.content),
                retryable=resp.status_code >= 500,
            )
        try:
            doc = resp.json()
        except ValueError:
            doc = None
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token or any(c in token for c in "\r\n "):
            raise RegistryError(self.registry, repository, "the token server answered garbage")
        assert isinstance(doc, dict)
        expires = doc.get("expires_in")
        lifetime = float(expires) if isinstance(expires, int | float) and expires > 0 else 60.0
        refresh = doc.get("refresh_token")
        if isinstance(refresh, str) and refresh:
            state.refresh_token = refresh
        state.store_token(scopes, token, lifetime)

    async def _token_request(
        self,
        method: str,
        url: str,
        repository: str | None,
        **kwargs: Any,
    ) -> httpx.Response:
        last: Exception | None = None
        for attempt in range(self.retry.attempts):
            try:
                self.notices.count("TOKEN")
                resp = await self._client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                last = exc
            else:
                if resp.status_code not in RETRY_STATUSES:
                    return resp
                last = None
            await asyncio.sleep(self._backoff(attempt))
        raise RegistryError(
            self.registry,
            repository,
            "the token server did not answer" + (f" ({last.__class__.__name__})" if last else ""),
            retryable=True,
        )

    # -- requests -----------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        delay = min(self.retry.max_delay, self.retry.base_delay * (2**attempt))
        return float(delay * (0.5 + random.random() / 2))

    async def request(
        self,
        method: str,
        path: str,
        *,
        repository: str | None,
        actions: tuple[str, ...] = ("pull",),
        extra_scopes: tuple[str, ...] = (),
        headers: Mapping[str, str] | None = None,
        params: list[tuple[str, str | int | float | bool | None]] | None = None,
        content: bytes | AsyncIterable[bytes] | None = None,
        idempotent: bool = True,
        follow_redirects: bool = False,
        stream: bool = False,
    ) -> httpx.Response:
        """Send one logical request, handling auth challenges and retrying what is safe.

        ``path`` is relative to the registry (``/v2/...``) or an absolute URL (upload
        locations). With ``stream`` the caller must close the response.
        """
        url = path if path.startswith(("http://", "https://")) else await self.base_url() + path
        scopes = frozenset(
            ([f"repository:{repository}:{','.join(actions)}"] if repository else [])
            + list(extra_scopes)
        )
        started = time.monotonic()
        attempt = 0
        auth_tries = 0
        while True:
            state = self._auth_state()
            hdrs = dict(headers or {})
            auth = state.header_for(scopes)
            if auth and self._same_registry(url):
                hdrs["Authorization"] = auth
            t0 = time.monotonic()
            try:
                async with self._sem:
                    self.notices.count(method)
                    req = self._client.build_request(
                        method, url, headers=hdrs, params=params, content=content
                    )
                    resp = await self._client.send(
                        req, stream=True, follow_redirects=follow_redirects
                    )
                    if not stream:
                        await resp.aread()
                        await resp.aclose()
            except httpx.TransportError as exc:
                if _is_cert_error(exc):
                    raise self._tls_error() from None
                log.debug("%s %s -> %s", method, redact_url(url), exc.__class__.__name__)
                if idempotent and self._may_retry(attempt, started):
                    delay = self._backoff(attempt)
                    self.notices.add(
                        f"{self.registry}: {exc.__class__.__name__} on {method}, retrying"
                    )
                    attempt += 1
                    await asyncio.sleep(delay)
                    continue
                raise RegistryError(
                    self.registry,
                    repository,
                    f"{method} failed: {exc.__class__.__name__}: {_short(exc)}",
                    retryable=True,
                ) from None
            log.debug(
                "%s %s -> %d (%.0f ms)",
                method,
                redact_url(url),
                resp.status_code,
                (time.monotonic() - t0) * 1000,
            )
            self._observe(resp)
            if resp.status_code == 401 and auth_tries < 2:
                challenges = parse_challenges(resp.headers.get("www-authenticate", ""))
                if stream:
                    await resp.aclose()
                auth_tries += 1
                if auth_tries == 2:
                    state.forget(scopes)  # The token was rejected: fetch a fresh one once.
                if challenges and await self._answer_challenge(challenges, scopes, repository):
                    continue
                return resp
            if (
                resp.status_code in RETRY_STATUSES
                and idempotent
                and self._may_retry(attempt, started)
            ):
                wait = parse_retry_after(resp.headers.get("retry-after"))
                delay = (
                    min(wait, self.retry.retry_after_cap)
                    if wait is not None
                    else self._backoff(attempt)
                )
                self.notices.add(
                    f"{self.registry}: HTTP {resp.status_code} on {method}; waiting"
                    f" {delay:.1f}s before retrying"
                    + (" (Retry-After)" if wait is not None else "")
                )
                if stream:
                    await resp.aclose()
                attempt += 1
                await asyncio.sleep(delay)
                continue
            return resp

    def _may_retry(self, attempt: int, started: float) -> bool:
        return attempt + 1 < self.retry.attempts and time.monotonic() - started < self.retry.total

    def _same_registry(self, url: str) -> bool:
        return urlsplit(url).netloc.lower() == self.api_host.lower()

    def _observe(self, resp: httpx.Response) -> None:
        remaining = resp.headers.get("ratelimit-remaining")
        if remaining:
            limit = resp.headers.get("ratelimit-limit", "?")
            self.notices.rate_limits[self.registry] = (
                f"{remaining.split(';')[0]} of {limit.split(';')[0]} pulls left"
            )
        for warning in resp.headers.get_list("warning"):
            text = warning.split('"', 1)[-1].rstrip('"')[:1024] if '"' in warning else warning
            self.notices.add(f"{self.registry} warns: {text}")


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:200]
