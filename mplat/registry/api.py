"""What the engine needs of a registry: a small interface and the plain values it speaks.

The planner, applier and deleter are written against these Protocols, not the HTTP client,
so they can be tested against an in-memory registry without a network, and importing the
engine does not load the network stack. ``mplat.registry.operations`` and
``mplat.registry.pool`` implement them; nothing here imports httpx or anything beyond the
value types.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol

from mplat.values.manifest import Manifest

DEFAULT_PARALLELISM = 8
"""Requests in flight to one registry unless the user says otherwise. Defined here, in the
module any layer may import without loading the network stack, so the CLI's help, the pool
and the session name one number."""


class ContentCache(Protocol):
    """Immutable content by digest (manifests, config blobs); see mplat.registry.cache."""

    def get(self, digest: str) -> bytes | None: ...
    def has(self, digest: str) -> bool: ...
    def put(self, digest: str, data: bytes) -> None: ...


@dataclass(frozen=True)
class ManifestInfo:
    """What a HEAD tells: enough to decide most plans without reading a body."""

    digest: str
    media_type: str
    size: int


@dataclass(frozen=True)
class FetchedManifest:
    digest: str
    media_type: str
    data: bytes = field(repr=False)
    manifest: Manifest = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)


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
    _keys: set[str] = field(default_factory=set, repr=False)

    def add(self, message: str, key: str | None = None) -> None:
        """Note ``message`` once; with ``key``, once per key (retry notes vary by their wait,
        and a registry that is down would otherwise earn one line per request)."""
        if message in self.messages or (key is not None and key in self._keys):
            return
        if key is not None:
            self._keys.add(key)
        self.messages.append(message)
        if self.emit:
            self.emit(message)

    def count(self, method: str) -> None:
        self.requests[method] = self.requests.get(method, 0) + 1


class Registry(Protocol):
    """One registry's content operations. ``repository`` is the path within the registry.

    Missing things are ``None`` from the probes (``head_manifest``, ``blob_size``) and
    :class:`mplat.registry.errors.NotFoundError` from the reads; every other failure is a
    :class:`mplat.registry.errors.RegistryError` naming the registry and repository.
    """

    @property
    def registry(self) -> str: ...

    def probably_cached(self, repository: str, tag: str) -> bool:
        """Whether the local cache probably holds what ``tag`` holds now (it holds what the
        tag held when last read here): then a HEAD and a cached read beat a GET of the tag."""
        ...

    async def head_manifest(self, repository: str, ref: str) -> ManifestInfo | None: ...

    async def get_manifest(self, repository: str, ref: str) -> FetchedManifest: ...

    async def put_manifest(self, repository: str, ref: str, data: bytes, media_type: str) -> str:
        """Store a manifest under a tag or its digest; returns the digest the registry keeps."""
        ...

    async def delete_manifest(self, repository: str, ref: str) -> None: ...

    async def list_tags(self, repository: str) -> list[str]: ...

    async def tags_within(self, repository: str, max_pages: int) -> frozenset[str] | None:
        """Every tag of ``repository`` if its list ends within ``max_pages`` pages; None
        past them, or when the registry will not list them or its list cannot be read
        whole (never a registry error: the caller asks tag by tag instead). A repository
        the registry says does not exist (NAME_UNKNOWN) has none."""
        ...

    async def blob_size(self, repository: str, digest: str) -> int | None: ...

    async def get_blob(self, repository: str, digest: str, max_bytes: int) -> bytes: ...

    def stream_blob(
        self, repository: str, digest: str, *, max_bytes: int | None = None
    ) -> AsyncIterator[bytes]: ...

    async def mount_blob(self, repository: str, digest: str, source_repository: str) -> bool:
        """Cross-repository mount; False when refused (the caller copies instead)."""
        ...

    async def upload_blob(
        self,
        repository: str,
        digest: str,
        size: int,
        chunks: Callable[[], AsyncIterable[bytes]],
    ) -> None:
        """Upload a blob; ``chunks`` makes a fresh stream for each attempt."""
        ...


class Registries(Protocol):
    """Every registry a run touches, by host name, and what the run observed of them."""

    @property
    def notices(self) -> Notices: ...

    def client(self, registry: str) -> Registry: ...
