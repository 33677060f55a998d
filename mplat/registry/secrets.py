"""A credential, and keeping its secret out of every text mplat writes.

Apart from where credentials are looked up (:mod:`mplat.registry.credentials`) and the
helper programs that hold some of them (:mod:`mplat.registry.credhelpers`), because both
need these, and the request pipeline needs :class:`Credential` alone.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus

from mplat.values.errors import MplatError

TOKEN_USERNAME = "<token>"
"""A username that says the secret is an identity (refresh) token, not a password."""
MIN_SECRET_LEN = 4
"""Shorter secrets are not searched for in messages: they would match ordinary words."""


@dataclass(frozen=True)
class Credential:
    """A secret for one registry. ``repr`` never shows the secret parts."""

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)
    registry_token: str = field(default="", repr=False)
    source: str = ""

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.password, self.identity_token, self.registry_token) if s)


def secret_forms(cred: Credential) -> set[str]:
    """Every spelling of ``cred``'s secrets that could end up in text: raw, user:password,
    its Basic base64 (padded, unpadded, URL-safe) and URL-encoded variants."""
    raw = set(cred.secrets())
    if cred.username and cred.password:
        raw.add(f"{cred.username}:{cred.password}")
    forms = set(raw)
    for text in raw:
        forms |= {quote(text, safe=""), quote_plus(text), quote(text)}
        b64 = base64.b64encode(text.encode()).decode()
        forms |= {b64, b64.rstrip("="), base64.urlsafe_b64encode(text.encode()).decode()}
    return {f for f in forms if len(f) >= MIN_SECRET_LEN}


def redact_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every known secret form replaced by ``[redacted]``, longest first."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= MIN_SECRET_LEN:
            text = text.replace(secret, "[redacted]")
    return text


class CredentialError(MplatError):
    """A credential source that exists but is broken (unparsable config.json, helper crashed).

    The message names the file, variable or helper and never contains a secret.
    """


def string_field(value: object, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CredentialError(f"{where} must be a string")
    return value
