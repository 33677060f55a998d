"""HTTP to one registry: scheme and TLS choice, authentication, retries, redaction.

This is the only module that talks to httpx. Everything above it speaks in repositories,
references and digests; everything here speaks in requests, and enforces the rules that
keep mplat safe on other people's registries: credentials only for their own registry,
bounded concurrency, bounded retries that honour ``Retry-After``, nothing secret in logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import logging
import os
import random
import re
import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from mplat import __version__
from mplat.registry.api import Notices
from mplat.registry.auth import (
    AuthState,
    Challenge,
    basic_header,
    parse_challenges,
    scope_for,
    token_lifetime,
)
from mplat.registry.credentials import Credential
from mplat.registry.errors import RegistryError, parse_error_body
from mplat.registry.lean import LeanTransport
from mplat.values.reference import is_loopback_host

log = logging.getLogger("mplat.http")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_SAFE_QUERY_KEYS = frozenset({"digest", "mount", "from", "n", "last", "service", "scope", "tag"})
USER_AGENT = f"mplat/{__version__}"
_HTTP = ("http://", "https://")
_TOKEN_RE = re.compile(r"[\x21-\x7e]+")
"""A bearer token must be printable ASCII without spaces, or it could split a header."""
_WARN_TEXT_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retries: a cron job must finish, and a struggling registry must get air.

    The waits before attempts 2..8 are 0.5, 1, 2, 4, 8, 8, 8 s, each scaled by a jitter in
    [0.5, 1): at least 15.75 s and at most 31.5 s of waiting, so an idempotent request rides
    out a registry restart or an outage of 15 s, and the whole call stays within ``total``.
    """

    attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 8.0
    total: float = 90.0
    retry_after_cap: float = 60.0

    def min_wait(self) -> float:
        """The shortest time all retries of one request can span (every jitter at its low)."""
        return sum(
            min(self.max_delay, self.base_delay * 2.0**a) * 0.5 for a in range(self.attempts - 1)
        )


def redact_url(url: str) -> str:
    """Keep a URL readable in logs while hiding query values (signatures) and userinfo."""
    parts = urlsplit(url)
    if not parts.query and "@" not in parts.netloc:
        return url
    query = [(k, v if k in _SAFE_QUERY_KEYS else "REDACTED") for k, v in parse_qsl(parts.query)]
    netloc = parts.netloc if "@" not in parts.netloc else "REDACTED@" + parts.netloc.split("@")[-1]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe=":/,")))


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


MAX_SMALL_BODY = 1 << 20
"""Answers mplat reads whole (errors, tag lists, tokens) are small; a registry that sends
more is not owed the memory, so reading stops here."""


async def read_capped(
    resp: httpx.Response, limit: int = MAX_SMALL_BODY, deadline: float | None = None
) -> bytes:
    """Read at most ``limit`` bytes of a streamed response, close it, and keep what was read
    as the response's content (so ``resp.content`` / ``resp.json()`` work as usual).

    ``deadline`` bounds the whole read: the per-read timeout alone lets a registry that
    sends one byte a second keep mplat reading for days.
    """
    buf = bytearray()
    try:
        async with asyncio.timeout(deadline):
            async for chunk in resp.aiter_bytes():
                buf += chunk
                if len(buf) > limit:
                    del buf[limit:]
                    break
    except TimeoutError:
        raise httpx.ReadTimeout(f"the body took longer than {deadline:g}s") from None
    finally:
        await resp.aclose()
    resp._content = bytes(buf)  # httpx's own slot for a read body
    return resp._content


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
        credential: Callable[[str | None], Credential | None] | None = None,
        parallelism: int = 8,
        retry: RetryPolicy | None = None,
        notices: Notices | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.registry = registry
        self.api_host = api_host
        self._netloc = api_host.lower()
        self.insecure = insecure
        self.ca_file = ca_file
        self.retry = retry or RetryPolicy()
        self.notices = notices or Notices()
        self._credential_loader = credential
        # Auth state per credential, not per registry: repositories of one registry may
        # have different logins (auth.json namespace keys), and tokens must not cross them.
        self._auth: dict[Credential | None, AuthState] = {}
        self._credentials: dict[str | None, Credential | None] = {}
        self._auth_lock = asyncio.Lock()
        self._scheme: str | None = None
        self._scheme_lock = asyncio.Lock()
        self._sem = asyncio.Semaphore(parallelism)
        self.timeout = timeout
        # Set once this registry never answered a request through all its retries: later
        # requests fail at once with the same error instead of each waiting it out again.
        self._down: RegistryError | None = None
        # While one request is retrying a registry that did not answer, the others wait for
        # its outcome (an answer, or down) instead of each opening connections to it.
        self._leader: asyncio.Future[None] | None = None
        try:
            ctx = _ssl_context(insecure, ca_file, _file_stamp(ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise RegistryError(
                registry, None, f"cannot load ca_file {ca_file}: {exc.__class__.__name__}"
            ) from None
        limits = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._transport = transport or LeanTransport(ctx)
        self._timeouts = {"timeout": limits.as_dict()}
        # The client serves what needs its machinery (redirects, the token realm); registry
        # requests without redirects go straight to the transport: no cookie jar, no URL
        # merging, no auth or redirect layers, which are most of httpx's cost per request.
        self._client = httpx.AsyncClient(
            timeout=limits,
            headers={"User-Agent": USER_AGENT},
            transport=self._transport,
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

    def _auth_state(self, repository: str | None) -> AuthState:
        """The state for ``repository``'s credential, shared by repositories with the same one."""
        if repository in self._credentials:
            cred = self._credentials[repository]
        else:
            cred = self._credential_loader(repository) if self._credential_loader else None
            self._credentials[repository] = cred
        state = self._auth.get(cred)
        if state is None:
            state = self._auth[cred] = AuthState(credential=cred)
        return state

    async def _answer_challenge(
        self,
        challenges: list[Challenge],
        scopes: frozenset[str],
        repository: str | None,
        sent: str | None,
    ) -> bool:
        """Obtain what the registry asked for; False if there is nothing more to try.

        ``sent`` is the Authorization that was refused (None if none was sent). Concurrent
        requests that hit the same 401 queue on the lock, and all but the first find the
        answer already there instead of fetching one token each.
        """
        state = self._auth_state(repository)
        async with self._auth_lock:
            current = state.header_for(scopes)
            if current is not None and current != sent:
                return True
            for ch in challenges:
                if ch.scheme == "bearer" and ch.params.get("realm", "").startswith(_HTTP):
                    state.scheme = "bearer"
                    state.bearer = ch
                    state.forget(scopes)
                    failed = state.token_failures.get(scopes)
                    if failed is not None:
                        raise failed  # Queued behind a refusal: do not ask again this run.
                    try:
                        await self._fetch_token(state, ch, scopes, repository)
                    except RegistryError as exc:
                        if not exc.retryable:
                            state.token_failures[scopes] = exc
                        raise
                    return True
            cred = state.credential
            if any(ch.scheme == "basic" for ch in challenges) and cred and cred.username:
                if sent is not None and sent.startswith("Basic "):
                    return False  # Those credentials were refused.
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
        refresh = state.refresh_token or (cred.identity_token if cred else "")
        if refresh:
            # An identity token is a refresh token: OAuth2 POST, as docker does.
            form = {
                "grant_type": "refresh_token",
                "refresh_token": refresh,
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
                retryable=resp.status_code >= 500 or resp.status_code == 429,
            )
        try:
            doc = resp.json()
        except ValueError:
            doc = None
        doc = doc if isinstance(doc, dict) else {}
        token = doc.get("token") or doc.get("access_token")
        if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
            raise RegistryError(
                self.registry, repository, "the token server answered garbage (no usable token)"
            )
        new_refresh = doc.get("refresh_token")
        if isinstance(new_refresh, str) and _TOKEN_RE.fullmatch(new_refresh):
            state.refresh_token = new_refresh
        state.store_token(scopes, token, token_lifetime(doc.get("expires_in")))

    async def _token_request(
        self,
        method: str,
        url: str,
        repository: str | None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One token request, retried like a GET; the last answer is returned whatever it is."""
        started = time.monotonic()
        attempt = 0
        while True:
            self.notices.count("TOKEN")
            try:
                req = self._client.build_request(method, url, **kwargs)
                resp = await self._client.send(req, stream=True)
                await read_capped(resp, deadline=self.timeout)
            except httpx.TransportError as exc:
                if _is_cert_error(exc):
                    raise RegistryError(
                        self.registry,
                        repository,
                        f"the token server {urlsplit(url).netloc}: TLS certificate is not trusted",
                    ) from None
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("%s %s -> %s", method, redact_url(url), exc.__class__.__name__)
                delay = self.backoff(attempt)
                if not self._may_retry(attempt, started, delay):
                    raise RegistryError(
                        self.registry,
                        repository,
                        f"the token server did not answer ({exc.__class__.__name__})",
                        retryable=True,
                    ) from None
            else:
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("%s %s -> %d", method, redact_url(url), resp.status_code)
                delay = self._retry_delay(resp, attempt)
                if resp.status_code not in RETRY_STATUSES or not self._may_retry(
                    attempt, started, delay
                ):
                    return resp
            attempt += 1
            await asyncio.sleep(delay)

    # -- requests -----------------------------------------------------------------------

    def backoff(self, attempt: int) -> float:
        delay = min(self.retry.max_delay, self.retry.base_delay * (2**attempt))
        return float(delay * (0.5 + random.random() / 2))

    def _retry_delay(self, resp: httpx.Response, attempt: int) -> float:
        wait = parse_retry_after(resp.headers.get("retry-after"))
        return min(wait, self.retry.retry_after_cap) if wait is not None else self.backoff(attempt)

    def _may_retry(self, attempt: int, started: float, delay: float) -> bool:
        """Another attempt fits both the attempt count and the time budget (wait included)."""
        return (
            attempt + 1 < self.retry.attempts
            and time.monotonic() - started + delay < self.retry.total
        )

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
        locations). With ``stream`` the caller must close the response. Authorization goes
        only to this registry's own host; httpx drops it on redirects to another origin.
        """
        absolute = path.startswith(_HTTP)
        url = path if absolute else await self.base_url() + path
        own_host = not absolute or self._same_registry(url)
        # A body that is a stream cannot be sent twice, so its 401 is final.
        replayable = content is None or isinstance(content, bytes)
        scopes = frozenset(
            ([scope_for(repository, actions)] if repository else []) + list(extra_scopes)
        )
        state = self._auth_state(repository)
        lead: list[asyncio.Future[None]] = []  # Holds the future while this call leads.
        try:
            return await self._attempts(
                lead,
                method,
                url,
                own_host,
                replayable,
                scopes,
                state,
                repository,
                headers,
                params,
                content,
                idempotent,
                follow_redirects,
                stream,
            )
        finally:
            if lead and self._leader is lead[0]:
                self._leader = None
            if lead and not lead[0].done():
                lead[0].set_result(None)

    async def _attempts(
        self,
        lead: list[asyncio.Future[None]],
        method: str,
        url: str,
        own_host: bool,
        replayable: bool,
        scopes: frozenset[str],
        state: AuthState,
        repository: str | None,
        headers: Mapping[str, str] | None,
        params: list[tuple[str, str | int | float | bool | None]] | None,
        content: bytes | AsyncIterable[bytes] | None,
        idempotent: bool,
        follow_redirects: bool,
        stream: bool,
    ) -> httpx.Response:
        """The retry loop of :meth:`request`; ``lead`` is how the call leads (see there)."""
        started = time.monotonic()
        attempt = 0
        answered = False  # Whether any attempt of this call got an HTTP answer.
        fresh: str | None = None  # An Authorization obtained during this call.
        while True:
            hdrs = dict(headers or {})
            auth = state.header_for(scopes) if own_host else None
            if auth is None and own_host and state.bearer is not None:
                # The registry wants tokens: get this scope set's now rather than earn a 401.
                await self._answer_challenge([state.bearer], scopes, repository, None)
                auth = fresh = state.header_for(scopes)
            if auth:
                hdrs["Authorization"] = auth
            t0 = time.monotonic()
            try:
                async with self._slot(lead):
                    self.notices.count(method)
                    if follow_redirects:
                        req = self._client.build_request(
                            method, url, headers=hdrs, params=params, content=content
                        )
                        resp = await self._client.send(req, stream=True, follow_redirects=True)
                    else:
                        hdrs["User-Agent"] = USER_AGENT
                        req = httpx.Request(
                            method,
                            url,
                            headers=hdrs,
                            params=params,
                            content=content,
                            extensions=self._timeouts,
                        )
                        resp = await self._transport.handle_async_request(req)
                        resp.request = req
                    if not stream:
                        await read_capped(resp, deadline=self.timeout)
            except httpx.TransportError as exc:
                if _is_cert_error(exc):
                    raise self._tls_error() from None
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("%s %s -> %s", method, redact_url(url), exc.__class__.__name__)
                delay = self.backoff(attempt)
                kind = exc.__class__.__name__
                if idempotent and self._may_retry(attempt, started, delay):
                    self.notices.add(
                        f"{self.registry}: {kind} on {method}; waiting"
                        f" {delay:.1f}s before retrying",
                        key=f"{self.registry}|{kind}",
                    )
                    if self._leader is None:
                        lead[:] = [asyncio.get_running_loop().create_future()]
                        self._leader = lead[0]
                    attempt += 1
                    await asyncio.sleep(delay)
                    continue
                if self._down is not None:
                    raise self._down from None
                if idempotent and not answered:
                    # Never answered through every retry: down (or stalled) for this run.
                    self._down = RegistryError(
                        self.registry,
                        None,
                        f"{method} failed: {_describe(exc)}; no answer after {attempt + 1}"
                        f" attempts over {time.monotonic() - started:.0f}s, so mplat stops"
                        " asking this registry for this run",
                        retryable=True,
                    )
                    raise self._down from None
                raise RegistryError(
                    self.registry,
                    repository,
                    f"{method} failed: {_describe(exc)}",
                    retryable=True,
                ) from None
            except httpx.RequestError as exc:  # Redirect loops, undecodable bodies.
                raise RegistryError(
                    self.registry, repository, f"{method} failed: {exc.__class__.__name__}"
                ) from None
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "%s %s -> %d (%.0f ms)",
                    method,
                    redact_url(url),
                    resp.status_code,
                    (time.monotonic() - t0) * 1000,
                )
            answered = True
            if lead and self._leader is lead[0]:
                self._leader = None  # It answers again: the others may go ahead.
                lead[0].set_result(None)
            self._observe(resp)
            if (
                resp.status_code == 401
                and replayable
                and (auth is None or auth != fresh)
                and self._same_registry(str(resp.url))
            ):
                # Answer once; a refused cached token earns one fresh fetch, a fresh one no more.
                # A 401 from a redirect target is never answered: its realm could be anyone's.
                challenges = parse_challenges(resp.headers.get("www-authenticate", ""))
                if challenges and await self._answer_challenge(
                    challenges, scopes, repository, auth
                ):
                    fresh = state.header_for(scopes)
                    if fresh is not None and fresh != auth:
                        if stream:
                            await resp.aclose()
                        continue
                return resp
            if resp.status_code in RETRY_STATUSES and idempotent:
                delay = self._retry_delay(resp, attempt)
                if self._may_retry(attempt, started, delay):
                    self.notices.add(
                        f"{self.registry}: HTTP {resp.status_code} on {method}; waiting"
                        f" {delay:.1f}s before retrying"
                        + (" (Retry-After)" if _has_retry_after(resp) else ""),
                        key=f"{self.registry}|{resp.status_code}",
                    )
                    if stream:
                        await resp.aclose()
                    attempt += 1
                    await asyncio.sleep(delay)
                    continue
            return resp

    @contextlib.asynccontextmanager
    async def _slot(self, lead: list[asyncio.Future[None]]) -> AsyncIterator[None]:
        """A slot of this registry's semaphore, taken only when no other request is retrying
        a registry that did not answer (then wait for its outcome), and never once it is down.
        The check is repeated after the wait for the slot, which can be long."""
        while True:
            leader = self._leader
            if leader is not None and not (lead and leader is lead[0]):
                await asyncio.shield(leader)
            if self._down is not None:
                raise self._down
            async with self._sem:
                leader = self._leader
                if self._down is None and (leader is None or (lead and leader is lead[0])):
                    yield
                    return
            if self._down is not None:
                raise self._down

    def _same_registry(self, url: str) -> bool:
        return urlsplit(url).netloc.lower() == self._netloc

    def _observe(self, resp: httpx.Response) -> None:
        remaining = resp.headers.get("ratelimit-remaining")
        if remaining:
            limit = resp.headers.get("ratelimit-limit", "?")
            self.notices.rate_limits[self.registry] = (
                f"{remaining.split(';')[0]} of {limit.split(';')[0]} pulls left"
            )
        for warning in resp.headers.get_list("warning"):
            # RFC 7234: 299 - "text" ["date"]; show the text only.
            m = _WARN_TEXT_RE.search(warning)
            text = m.group(1).replace('\\"', '"') if m else warning
            self.notices.add(f"{self.registry} warns: {text[:1024]}")


@functools.lru_cache(maxsize=32)
def _ssl_context(
    insecure: bool, ca_file: str | None, stamp: tuple[int, int] | None
) -> ssl.SSLContext:
    """One context per setting, shared by every registry: each loads the system trust
    store (about a megabyte), and a thousand registries must not mean a thousand copies."""
    ctx = ssl.create_default_context()
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ca_file:
        ctx.load_verify_locations(cafile=ca_file)
    ctx.set_alpn_protocols(["http/1.1"])
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


def _has_retry_after(resp: httpx.Response) -> bool:
    return parse_retry_after(resp.headers.get("retry-after")) is not None


def _describe(exc: Exception) -> str:
    """``ReadError: text`` or just ``ReadError`` when the exception says nothing more."""
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__
