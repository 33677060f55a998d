"""Challenge-driven registry authentication (distribution token spec, RFC 6750, RFC 7617).

mplat never guesses how a registry authenticates: it sends the request anonymously (or with
a token it already holds for that exact scope set), reads ``WWW-Authenticate`` from the 401,
and answers the challenge. Tokens are cached per scope set until shortly before they expire.
"""

from __future__ import annotations

import base64
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mplat.registry.credentials import Credential

_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*,?')

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
