"""The one request pipeline to one registry: the only module that sends registry requests.

A logical request passes these steps, each a method below, outermost first (the shape of
httpx's ``_send_handling_auth`` and go-containerregistry's ``transport`` wrappers):

1. :meth:`Session.request` builds the URL (:meth:`Session.base_url` probes the scheme once)
   and runs the **retry step**: :class:`mplat.registry.retry.Retrying`, the one retry loop;
2. :meth:`Session._attempt` is the **auth step**: it sends with the Authorization this
   credential holds for the scope set, and answers a 401 challenge (through
   :class:`mplat.registry.auth.Authenticator`) by sending once more;
3. :meth:`Session._send` sends once, through the :class:`OutageGate`, and the answer is
   **observed** (rate limits, warnings, the debug log: :mod:`mplat.registry.observe`).

Everything above this module speaks in repositories, references and digests. The rules
kept here: credentials only for their own registry, bounded concurrency, retries only of
what is safe to repeat, nothing secret in logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from mplat import __version__
from mplat.registry.api import DEFAULT_PARALLELISM, Notices
from mplat.registry.auth import Authenticator, AuthState, parse_challenges, scope_for
from mplat.registry.bodies import read_capped
from mplat.registry.errors import RegistryError
from mplat.registry.inflight import InFlight
from mplat.registry.observe import (
    describe,
    log_answer,
    log_failure,
    note_retry,
    observe,
    retry_after,
)
from mplat.registry.retry import Again, Retrying, RetryPolicy, Verdict, retryable_status
from mplat.registry.secrets import Credential
from mplat.registry.tls import context_for, is_cert_error, untrusted
from mplat.registry.transports import ChoosingTransport
from mplat.values.reference import is_loopback_host

USER_AGENT = f"mplat/{__version__}"
_HTTP = ("http://", "https://")
MAX_REDIRECTS = 10
"""Hops a read follows (registry to storage is one; a CDN may add one or two)."""
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class BadRedirect(httpx.RequestError):
    """A Location no request can go to: an answer, so final (never retried)."""


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


Params = list[tuple[str, str | int | float | bool | None]]


@dataclass
class _Lead:
    """The future by which one request, while it leads (see :class:`OutageGate`), tells
    the others waiting on it that the registry answered or is down."""

    future: asyncio.Future[None] | None = None


class OutageGate:
    """Concurrency bound and outage handling for one registry.

    While one request is retrying a registry that did not answer, the others wait for its
    outcome (an answer, or down) instead of each opening connections to it; once the
    registry never answered a request through all its retries it is ``down``, and later
    requests fail at once with the same error instead of each waiting it out again.
    """

    def __init__(self, parallelism: int, *, adaptive: bool = False) -> None:
        self.inflight = InFlight(parallelism, adaptive=adaptive)
        self._leader: asyncio.Future[None] | None = None
        self.down: RegistryError | None = None

    def _leads(self, lead: _Lead) -> bool:
        return lead.future is not None and self._leader is lead.future

    def claim(self, lead: _Lead) -> None:
        """Lead the retrying, unless another request already does."""
        if self._leader is None:
            lead.future = asyncio.get_running_loop().create_future()
            self._leader = lead.future

    def answered(self, lead: _Lead) -> None:
        """The registry answers again: the others may go ahead."""
        if lead.future is not None and self._leads(lead):
            self._leader = None
            lead.future.set_result(None)

    def release(self, lead: _Lead) -> None:
        """The request is over, whatever its outcome."""
        if self._leads(lead):
            self._leader = None
        if lead.future is not None and not lead.future.done():
            lead.future.set_result(None)

    @contextlib.asynccontextmanager
    async def slot(self, lead: _Lead) -> AsyncIterator[None]:
        """A slot of the semaphore, taken only when no other request leads (then wait for
        its outcome), and never once the registry is down. The check is repeated after
        the wait for the slot, which can be long."""
        while True:
            leader = self._leader
            if leader is not None and not self._leads(lead):
                await asyncio.shield(leader)
            if self.down is not None:
                raise self.down
            async with self.inflight:
                if self.down is None and (self._leader is None or self._leads(lead)):
                    yield
                    return
            if self.down is not None:
                raise self.down


@dataclass
class _Call:
    """One logical request and what its attempts learn along the way."""

    method: str
    url: str
    repository: str | None
    scopes: frozenset[str]
    state: AuthState
    own_host: bool
    replayable: bool
    """A body that is a stream cannot be sent twice, so its 401 is final."""
    headers: Mapping[str, str] | None
    params: Params | None
    content: bytes | AsyncIterable[bytes] | None
    idempotent: bool
    follow_redirects: bool
    stream: bool
    answered: bool = False
    """Whether any attempt got an HTTP answer."""
    fresh: str | None = None
    """An Authorization obtained during this call: refused, it is not fetched again."""


class Session:
    """Requests to one registry with auth, retries and concurrency bounds applied."""

    def __init__(
        self,
        registry: str,
        *,
        api_host: str,
        insecure: bool = False,
        ca_file: str | None = None,
        credential: Callable[[str | None], Credential | None] | None = None,
        parallelism: int = DEFAULT_PARALLELISM,
        retry: RetryPolicy | None = None,
        notices: Notices | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        http2: bool = False,
        fit_parallelism: bool = False,
    ) -> None:
        self.registry = registry
        self.api_host = api_host
        self._netloc = api_host.lower()
        self.insecure = insecure
        self.ca_file = ca_file
        self.retry = retry or RetryPolicy()
        self.notices = notices or Notices()
        self.timeout = timeout
        self.auth = Authenticator(registry, credential, self._token_request)
        # ``fit_parallelism``: the user set no bound, so it may grow on a slow link (inflight).
        self._gate = OutageGate(parallelism, adaptive=fit_parallelism)
        self._scheme: str | None = None
        self._scheme_lock = asyncio.Lock()
        limits = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        # With ``http2``, HTTP/2 where TLS negotiates it; the lean HTTP/1.1 transport for
        # the rest, and for everything by default (measured faster: transports.py).
        self._transport = transport or ChoosingTransport(
            context_for(registry, insecure, ca_file),
            context_for(registry, insecure, ca_file, http2=True) if http2 else None,
            http2=http2,
        )
        self._timeouts = {"timeout": limits.as_dict()}
        # The client serves only the scheme probe and token requests; registry requests go
        # straight to the transport (redirects: _follow): no cookie jar, no URL merging, no
        # auth or redirect layers, which are most of httpx's cost per request.
        self._client = httpx.AsyncClient(
            timeout=limits,
            headers={"User-Agent": USER_AGENT},
            transport=self._transport,
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- base URL -----------------------------------------------------------------------

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
            if is_cert_error(exc) and not self.insecure:
                raise untrusted(self.registry) from None
            return "http"
        except httpx.TransportError:
            return "http"

    async def absolute(self, location: str) -> str:
        """An upload ``Location`` (absolute, or a path on this registry) as a URL."""
        if location.startswith(_HTTP):
            return location
        return await self.base_url() + location

    # -- 1. the retry step --------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        repository: str | None,
        actions: tuple[str, ...] = ("pull",),
        extra_scopes: tuple[str, ...] = (),
        headers: Mapping[str, str] | None = None,
        params: Params | None = None,
        content: bytes | AsyncIterable[bytes] | None = None,
        idempotent: bool = True,
        follow_redirects: bool = False,
        stream: bool = False,
    ) -> httpx.Response:
        """Send one logical request, handling auth challenges and retrying what is safe.

        ``path`` is relative to the registry (``/v2/...``) or an absolute URL (upload
        locations). With ``stream`` the caller must close the response. Authorization goes
        only to this registry's own host, and never follows a redirect to another origin.
        ``follow_redirects`` is for reads without a body (see :meth:`_follow`).
        """
        if follow_redirects and content is not None:
            raise ValueError("only requests without a body follow redirects")
        absolute = path.startswith(_HTTP)
        url = path if absolute else await self.base_url() + path
        call = _Call(
            method=method,
            url=url,
            repository=repository,
            scopes=frozenset(
                ([scope_for(repository, actions)] if repository else []) + list(extra_scopes)
            ),
            state=self.auth.state(repository),
            own_host=not absolute or self._same_registry(url),
            replayable=content is None or isinstance(content, bytes),
            headers=headers,
            params=params,
            content=content,
            idempotent=idempotent,
            follow_redirects=follow_redirects,
            stream=stream,
        )
        lead = _Lead()
        retrying: Retrying[httpx.Response] = Retrying(self.retry, idempotent=idempotent)

        async def before_retry(outcome: Again[httpx.Response], delay: float) -> Verdict:
            note_retry(
                self.notices,
                self.registry,
                method,
                outcome.reason,
                delay,
                asked=outcome.retry_after is not None,
            )
            if outcome.error is not None:
                self._gate.claim(lead)  # No answer: the others wait for this one's outcome.
            elif stream and outcome.value is not None:
                await outcome.value.aclose()
            return Verdict.RETRY

        try:
            return await retrying.run(lambda _: self._attempt(call, lead), before_retry)
        except httpx.TransportError as exc:
            raise self._gave_up(call, exc, retrying) from None
        finally:
            self._gate.release(lead)

    def _gave_up(
        self, call: _Call, exc: httpx.TransportError, retrying: Retrying[httpx.Response]
    ) -> RegistryError:
        """The error for a request that got no answer it could use through its retries."""
        if self._gate.down is not None:
            return self._gate.down
        if call.idempotent and not call.answered:
            # Never answered through every retry: down (or stalled) for this run.
            self._gate.down = RegistryError(
                self.registry,
                None,
                f"{call.method} failed: {describe(exc)}; no answer after {retrying.attempts}"
                f" attempts over {retrying.elapsed():.0f}s, so mplat stops"
                " asking this registry for this run",
                retryable=True,
            )
            return self._gate.down
        return RegistryError(
            self.registry, call.repository, f"{call.method} failed: {describe(exc)}", retryable=True
        )

    # -- 2. the auth step ---------------------------------------------------------------

    async def _attempt(self, call: _Call, lead: _Lead) -> httpx.Response | Again[httpx.Response]:
        """One attempt: send, and send again once a 401's challenge has been answered.

        A refused cached token earns one fresh fetch, a fresh one no more. A 401 from a
        redirect target is never answered: its realm could be anyone's.
        """
        while True:
            auth = await self._authorization(call)
            try:
                resp = await self._send(call, auth, lead)
            except httpx.TransportError as exc:
                if is_cert_error(exc):
                    raise untrusted(self.registry) from None
                log_failure(call.method, call.url, exc)
                return Again(exc.__class__.__name__, error=exc)
            except httpx.RequestError as exc:  # Redirect loops, undecodable bodies.
                raise RegistryError(
                    self.registry,
                    call.repository,
                    f"{call.method} failed: {exc.__class__.__name__}",
                ) from None
            call.answered = True
            self._gate.answered(lead)
            if resp.status_code == 429:
                self._gate.inflight.throttled()
            observe(self.registry, resp, self.notices)
            if (
                resp.status_code == 401
                and call.replayable
                and (auth is None or auth != call.fresh)
                and self._same_registry(str(resp.url))
            ):
                challenges = parse_challenges(resp.headers.get("www-authenticate", ""))
                if challenges and await self.auth.answer(
                    challenges, call.scopes, call.repository, auth
                ):
                    call.fresh = call.state.header_for(call.scopes)
                    if call.fresh is not None and call.fresh != auth:
                        if call.stream:
                            await resp.aclose()
                        continue
                return resp
            if retryable_status(resp.status_code):
                return Again(f"HTTP {resp.status_code}", value=resp, retry_after=retry_after(resp))
            return resp

    async def _authorization(self, call: _Call) -> str | None:
        """What to send as Authorization: only ever to this registry's own host."""
        if not call.own_host:
            return None
        auth = call.state.header_for(call.scopes)
        if auth is None and call.state.bearer is not None:
            # The registry wants tokens: get this scope set's now rather than earn a 401.
            await self.auth.answer([call.state.bearer], call.scopes, call.repository, None)
            auth = call.fresh = call.state.header_for(call.scopes)
        return auth

    # -- 3. one send --------------------------------------------------------------------

    async def _send(self, call: _Call, auth: str | None, lead: _Lead) -> httpx.Response:
        hdrs = dict(call.headers or {})
        if auth:
            hdrs["Authorization"] = auth
        started = time.monotonic()
        hdrs["User-Agent"] = USER_AGENT
        async with self._gate.slot(lead):
            self.notices.count(call.method)
            req = httpx.Request(
                call.method,
                call.url,
                headers=hdrs,
                params=call.params,
                content=call.content,
                extensions=self._timeouts,
            )
            sent = time.monotonic()
            resp = await self._transport.handle_async_request(req)
            self._gate.inflight.answered(time.monotonic() - sent)
            resp.request = req
            if call.follow_redirects:
                resp = await self._follow(resp)
            if not call.stream:
                await read_capped(resp, deadline=self.timeout)
        log_answer(call.method, call.url, resp.status_code, started)
        return resp

    async def _follow(self, resp: httpx.Response) -> httpx.Response:
        """The answer at the end of ``resp``'s redirects, for a read without a body (blobs
        are often served from storage elsewhere). Registry requests go straight to the
        transport, not through httpx's client, whose redirect, cookie and auth layers are
        most of its cost per request; this is the part of them a blob read needs.

        Authorization never leaves the origin it was meant for (not even for another scheme
        or port); a redirect's own body is read (bounded) so its connection is reused.
        """
        hops = 0
        while resp.status_code in _REDIRECTS and "location" in resp.headers:
            req = resp.request
            if hops == MAX_REDIRECTS:
                await resp.aclose()
                raise httpx.TooManyRedirects("too many redirects", request=req)
            hops += 1
            try:
                url = req.url.join(resp.headers["location"])
            except httpx.InvalidURL:
                url = None
            await read_capped(resp, deadline=self.timeout)
            if url is None or url.scheme not in ("http", "https") or not url.host:
                raise BadRedirect("redirect to an unusable Location", request=req)
            headers = httpx.Headers(req.headers)
            del headers["host"]
            if _origin(url) != _origin(req.url):
                headers.pop("authorization", None)
            req = httpx.Request(req.method, url, headers=headers, extensions=req.extensions)
            resp = await self._transport.handle_async_request(req)
            resp.request = req
        return resp

    def _same_registry(self, url: str) -> bool:
        """Whether an absolute ``url`` is on this registry's own host (credentials go there)."""
        return urlsplit(url).netloc.lower() == self._netloc

    # -- token requests (sent for the auth step) ----------------------------------------

    async def _token_request(
        self, method: str, url: str, repository: str | None, **kwargs: Any
    ) -> httpx.Response:
        """One token request, retried like a GET; the last answer is returned whatever it is."""

        async def attempt(_: int) -> httpx.Response | Again[httpx.Response]:
            self.notices.count("TOKEN")
            try:
                req = self._client.build_request(method, url, **kwargs)
                resp = await self._client.send(req, stream=True)
                await read_capped(resp, deadline=self.timeout)
            except httpx.TransportError as exc:
                if is_cert_error(exc):
                    raise RegistryError(
                        self.registry,
                        repository,
                        f"the token server {urlsplit(url).netloc}: TLS certificate is not trusted",
                    ) from None
                log_failure(method, url, exc)
                return Again(exc.__class__.__name__, error=exc)
            log_answer(method, url, resp.status_code)
            if retryable_status(resp.status_code):
                return Again(f"HTTP {resp.status_code}", value=resp, retry_after=retry_after(resp))
            return resp

        try:
            return await Retrying[httpx.Response](self.retry).run(attempt)
        except httpx.TransportError as exc:
            raise RegistryError(
                self.registry,
                repository,
                f"the token server did not answer ({exc.__class__.__name__})",
                retryable=True,
            ) from None
