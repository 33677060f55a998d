"""Every registry a run touches: :class:`RegistryPool` implements
:class:`mplat.registry.api.Registries`, one :class:`~mplat.registry.operations.RegistryClient`
per registry host, created on first use with that registry's own settings.

One client per registry, never shared: each has its own credentials, scheme, concurrency
bound and outage state, so nothing learnt about one registry leaks to another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mplat.registry.api import DEFAULT_PARALLELISM, ContentCache, Notices
from mplat.registry.operations import RegistryClient
from mplat.registry.retry import RetryPolicy
from mplat.registry.secrets import Credential
from mplat.registry.session import Session
from mplat.registry.taghints import TagHints
from mplat.values.reference import api_host_for


@dataclass(frozen=True)
class ConnectionSettings:
    """How to connect to one registry, as the user configured it."""

    insecure: bool = False
    """Accept an unverified certificate, or plain HTTP, from this registry."""
    ca_file: str | None = None
    """A CA bundle to trust for this registry, beside the system's."""
    parallelism: int | None = None
    """Requests in flight to this registry at once; None for the pool's default."""
    http2: bool = False
    """HTTP/2 where this registry's TLS negotiates it; HTTP/1.1 otherwise and by default."""


@dataclass
class RegistryPool:
    """One client per registry, created on first use with that registry's own settings."""

    settings_for: Callable[[str], ConnectionSettings]
    credential_for: Callable[[str, str | None], Credential | None]
    """(registry, repository) -> credential; repository None for registry-wide requests."""
    notices: Notices = field(default_factory=Notices)
    cache: ContentCache | None = None
    hints: TagHints | None = None
    """What each tag held when last read, telling a HEAD from a GET (see registry.taghints)."""
    parallelism: int = DEFAULT_PARALLELISM
    fit_parallelism: bool = False
    """Whether ``parallelism`` is only the default, which a slow link may raise (for a
    registry whose settings name no parallelism of their own); see registry.inflight."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = 30.0
    _clients: dict[str, RegistryClient] = field(default_factory=dict)

    def client(self, registry: str) -> RegistryClient:
        found = self._clients.get(registry)
        if found is None:
            settings = self.settings_for(registry)
            session = Session(
                registry,
                api_host=api_host_for(registry),
                insecure=settings.insecure,
                ca_file=settings.ca_file,
                credential=lambda repository: self.credential_for(registry, repository),
                parallelism=settings.parallelism or self.parallelism,
                http2=settings.http2,
                fit_parallelism=self.fit_parallelism and settings.parallelism is None,
                retry=self.retry,
                notices=self.notices,
                timeout=self.timeout,
            )
            found = RegistryClient(session, self.cache, self.hints)
            self._clients[registry] = found
        return found

    async def aclose(self) -> None:
        for c in self._clients.values():
            await c.aclose()
        self._clients.clear()
        trim = getattr(self.cache, "trim", None)
        if trim is not None:
            trim()
        if self.hints is not None:
            self.hints.save()
