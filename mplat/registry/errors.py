"""Registry failures as messages a person can act on.

Every error names the registry and repository and keeps the registry's own error code, so
that a user can search for it or quote it to their registry's operators.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from mplat.values.errors import MplatError
from mplat.values.text import shown

_HINTS: dict[str, str] = {
    "UNAUTHORIZED": "check the credentials for this registry (see README: Credentials)",
    "DENIED": "the credentials are valid but lack permission for this repository",
    "NAME_UNKNOWN": "the repository does not exist (or is not visible with these credentials)",
    "NAME_INVALID": "the registry rejected the repository name",
    "MANIFEST_UNKNOWN": "no manifest with that tag or digest exists",
    "MANIFEST_BLOB_UNKNOWN": (
        "a child manifest or blob is not in this repository; registries only accept lists "
        "whose children already exist in the list's own repository"
    ),
    "MANIFEST_INVALID": "the registry rejected the manifest as invalid",
    "BLOB_UNKNOWN": "a blob is missing from this repository",
    "DIGEST_INVALID": "the content did not match its digest",
    "TOOMANYREQUESTS": "rate limited; wait, authenticate, or lower --parallelism",
    "UNSUPPORTED": "the registry does not support this operation",
    "TAG_INVALID": "the tag was refused (immutable tags refuse to be overwritten)",
    "SIZE_INVALID": "the content length did not match",
    "UNAVAILABLE": "the registry is temporarily unavailable; try again later",
}


MESSAGE_LIMIT = 500
"""A registry's own error message is kept up to this long: Docker Hub's carry a URL at the end."""


@dataclass(frozen=True)
class ErrorDetail:
    """One entry of a registry's error body, as sent: :meth:`RegistryError.describe` makes
    it safe to print (``detail`` is JSON text, escaped by construction)."""

    code: str
    message: str
    detail: str = ""


class RegistryError(MplatError):
    """A failed exchange with a registry (an HTTP error, a refused connection, bad content)."""

    def __init__(
        self,
        registry: str,
        repository: str | None,
        message: str,
        *,
        status: int | None = None,
        errors: tuple[ErrorDetail, ...] = (),
        retryable: bool = False,
    ) -> None:
        self.registry = registry
        self.repository = repository
        self.message = message
        self.status = status
        self.errors = errors
        self.retryable = retryable
        super().__init__(self.describe())

    @property
    def code(self) -> str | None:
        return self.errors[0].code if self.errors else None

    def has_code(self, *codes: str) -> bool:
        return any(e.code in codes for e in self.errors)

    def describe(self) -> str:
        where = self.registry + (f"/{self.repository}" if self.repository else "")
        text = f"{where}: {self.message}"
        if self.status is not None:
            text += f" (HTTP {self.status})"
        for err in self.errors:
            # The layout is mplat's; code and message are the registry's, so made safe.
            message = shown(err.message, MESSAGE_LIMIT) if err.message else ""
            text += f"\n  {shown(err.code)}: {message}"
            if err.detail:
                text += f" [{err.detail}]"
            hint = _HINTS.get(err.code)
            if hint:
                text += f"\n    hint: {hint}"
        return text


def parse_error_body(body: bytes) -> tuple[ErrorDetail, ...]:
    """Read the spec's ``{"errors": [{code, message, detail}]}`` body; anything else yields ()."""
    try:
        doc = json.loads(body[:65536])
    except (ValueError, UnicodeDecodeError):
        return ()
    if not isinstance(doc, dict) or not isinstance(doc.get("errors"), list):
        return ()
    out = []
    for item in doc["errors"][:20]:
        if not isinstance(item, dict):
            continue
        code = str(item.get("code") or "UNKNOWN")[:64]
        message = str(item.get("message") or "")[:MESSAGE_LIMIT]
        detail = item.get("detail")
        detail_text = "" if detail in (None, "", [], {}) else json.dumps(detail)[:500]
        out.append(ErrorDetail(code, message, detail_text))
    return tuple(out)


class ContentError(RegistryError):
    """The registry sent content that fails verification (digest, size, type, shape)."""


class BodyBrokenError(RegistryError):
    """A body that broke off after its headers arrived: safe to fetch again."""

    def __init__(self, registry: str, repository: str | None, message: str) -> None:
        super().__init__(registry, repository, message, retryable=True)


class NotFoundError(RegistryError):
    """The manifest, blob or repository does not exist."""
