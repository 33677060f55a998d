"""Challenge-driven registry authentication (distribution token spec, RFC 6750, RFC 7617).

mplat never guesses how a registry authenticates: it sends the request anonymously (or with
a token it already holds for that exact scope set), reads ``WWW-Authenticate`` from the 401,
and answers the challenge. Tokens are cached per scope set until shortly before they expire.

The parsing and the per-credential state are pure; :class:`Authenticator` answers challenges
for one registry, sending token requests through the function the request pipeline gives it
(so they are retried and observed like every other request).
"""

from __future__ import annotations

import asyncio
import base64
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from mplat.registry.errors import RegistryError, parse_error_body
from mplat.registry.retry import retryable_status
from mplat.registry.secrets import Credential

_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*,?')

_HTTP = ("http://", "https://")
_TOKEN_RE = re.compile(r"[\x21-\x7e]+")
"""A bearer token must be printable ASCII without spaces, or it could split a header."""

MIN_TOKEN_LIFETIME = 60.0
"""The token spec says never to assume less than 60 s of validity."""
MAX_TOKEN_LIFETIME = 86400.0
"""A server claiming more (or infinity) is not believed: a day is plenty for one run."""


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower-case: "bearer" or "basic"
    params: dict[str, str] = field(default_factory=dict)


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a WWW-Authenticate value into challenges; unknown or broken parts are skipped."""
    out: list[Challenge] = []
    rest = header.strip()
    while rest:
        m = re.match(r"([A-Za-z][A-Za-z0-9_-]*)\s*", rest)
        if not m:
            break
        scheme = m.group(1).lower()
        rest = rest[m.end() :]
        params: dict[str, str] = {}
        while rest:
            pm = _PARAM_RE.match(rest)
            if not pm or pm.end() == 0:
                break
            # A token followed by a space and no '=' starts the next challenge.
            value = pm.group(2) if pm.group(2) is not None else (pm.group(3) or "")
            params[pm.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
            rest = rest[pm.end() :]
        out.append(Challenge(scheme, params))
        rest = rest.lstrip(", ")
    return out


def scope_for(repository: str, actions: tuple[str, ...]) -> str:
    return f"repository:{repository}:{','.join(actions)}"


def token_lifetime(expires_in: object) -> float:
    """Seconds a token response's ``expires_in`` promises; 60 when absent or nonsense."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        return MIN_TOKEN_LIFETIME
    if not math.isfinite(expires_in):
        return MAX_TOKEN_LIFETIME if expires_in > 0 else MIN_TOKEN_LIFETIME
    return min(max(float(expires_in), MIN_TOKEN_LIFETIME), MAX_TOKEN_LIFETIME)


def basic_header(username: str, password: str) -> str:
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass
class _Token:
    value: str = field(repr=False)
    expires_at: float


@dataclass
class AuthState:
    """Authentication memory for one credential at one registry: scheme, tokens held,
    token refusals.

    One instance per (registry client, credential); never shared across registries, so
    credentials are never offered to a registry they do not belong to, nor across
    credentials, so one namespace login's tokens never serve another's repositories.
    """

    credential: Credential | None
    clock: Callable[[], float] = time.monotonic
    scheme: str | None = None
    bearer: Challenge | None = None
    tokens: dict[frozenset[str], _Token] = field(default_factory=dict, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    token_failures: dict[frozenset[str], Any] = field(default_factory=dict, repr=False)
    """Scope sets the token server refused (the RegistryError), not asked again this run."""
    _basic: str | None = field(default=None, init=False, repr=False)

    def header_for(self, scopes: frozenset[str]) -> str | None:
        """The Authorization value to send up front, if one is known to be wanted."""
        if self.scheme == "basic" and self.credential and self.credential.username:
            if self._basic is None:
                self._basic = basic_header(self.credential.username, self.credential.password)
            return self._basic
        if self.scheme == "bearer":
            tok = self.tokens.get(scopes)
            if tok and tok.expires_at > self.clock():
                return f"Bearer {tok.value}"
        if self.credential and self.credential.registry_token:
            return f"Bearer {self.credential.registry_token}"
        return None

    def store_token(self, scopes: frozenset[str], value: str, expires_in: float) -> None:
        lifetime = token_lifetime(expires_in)
        # Renew a little early so a token does not expire between check and use.
        self.tokens[scopes] = _Token(value, self.clock() + lifetime * 0.9)

    def forget(self, scopes: frozenset[str]) -> None:
        self.tokens.pop(scopes, None)


class TokenSender(Protocol):
    """Sends one token request (retried like a GET); returns the last answer, read whole."""

    def __call__(
        self, method: str, url: str, repository: str | None, **kwargs: Any
    ) -> Awaitable[httpx.Response]: ...


class Authenticator:
    """Challenge answers for one registry, with one :class:`AuthState` per credential.

    State is per credential, not per registry: repositories of one registry may have
    different logins (auth.json namespace keys), and tokens must not cross them.
    """

    def __init__(
        self,
        registry: str,
        credential: Callable[[str | None], Credential | None] | None,
        send_token: TokenSender,
    ) -> None:
        self.registry = registry
        self._credential_loader = credential
        self._send_token = send_token
        self._states: dict[Credential | None, AuthState] = {}
        self._credentials: dict[str | None, Credential | None] = {}
        self._lock = asyncio.Lock()

    def state(self, repository: str | None) -> AuthState:
        """The state for ``repository``'s credential, shared by repositories with the same one."""
        if repository in self._credentials:
            cred = self._credentials[repository]
        else:
            cred = self._credential_loader(repository) if self._credential_loader else None
            self._credentials[repository] = cred
        state = self._states.get(cred)
        if state is None:
            state = self._states[cred] = AuthState(credential=cred)
        return state

    async def answer(
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
        state = self.state(repository)
        async with self._lock:
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
            resp = await self._send_token("POST", realm, repository, data=form)
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
            resp = await self._send_token("GET", realm, repository, params=params, headers=headers)
        self._store(state, scopes, repository, resp)

    def _store(
        self,
        state: AuthState,
        scopes: frozenset[str],
        repository: str | None,
        resp: httpx.Response,
    ) -> None:
        """Keep the token a token server's answer holds, or say why there is none."""
        cred = state.credential
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
                retryable=retryable_status(resp.status_code),
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
