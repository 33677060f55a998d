"""An in-memory registry implementing ``mplat.registry.api``, for fast engine unit tests.

It keeps what a registry keeps and nothing more: per repository, manifests and blobs by the
sha256 of their exact bytes (media types kept), and tags naming manifest digests. It behaves
as distribution 2.8 (the registry of the e2e tests) does where mplat depends on it: a PUT is
refused while the children or blobs it references are missing from the repository; DELETE by
tag is refused (400 DIGEST_INVALID) and DELETE by digest removes every tag on that digest;
mounts work across repositories of one registry. Missing things are ``None`` from the probes
and ``NotFoundError`` from the reads, exactly as ``mplat.registry.operations`` gives them.

It is not a protocol mock: no HTTP, no auth, no retries. The real registry stays the truth in
tests/e2e/; a behaviour found only there belongs there.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mplat.registry.api import FetchedManifest, ManifestInfo, Notices, Registries, Registry
from mplat.registry.errors import ContentError, ErrorDetail, NotFoundError, RegistryError
from mplat.values import mediatypes as mt
from mplat.values.digest import sha256_digest
from mplat.values.manifest import Descriptor, Index, ManifestError, parse_manifest
from mplat.values.platform import Platform

OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

_METHODS = {
    "head_manifest": "HEAD",
    "get_manifest": "GET",
    "put_manifest": "PUT",
    "delete_manifest": "DELETE",
    "list_tags": "GET",
    "tags_within": "GET",
    "blob_size": "HEAD",
    "get_blob": "GET",
    "stream_blob": "GET",
    "mount_blob": "POST",
    "upload_blob": "PUT",
}


@dataclass
class Repository:
    manifests: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # digest -> (body, type)
    tags: dict[str, str] = field(default_factory=dict)  # tag -> digest
    blobs: dict[str, bytes] = field(default_factory=dict)


@dataclass
class Fault:
    """An injected failure: ``operation`` on ``ref`` (a tag or digest; None: any) raises."""

    operation: str
    ref: str | None
    error: RegistryError | None  # None: a 500 naming the repository
    times: int | None  # None: every time


class MemoryRegistry:
    """One registry host. ``calls`` records (operation, repository, ref) in call order."""

    def __init__(
        self,
        host: str,
        notices: Notices | None = None,
        *,
        delete_by_tag: bool = False,
        delete_enabled: bool = True,
        refuse_mounts: bool = False,
        caches_manifests: bool = True,
        tags_page: int = 1000,
    ) -> None:
        self.host = host
        self.tags_page = tags_page  # tags per page of a tag list
        self.caches_manifests = caches_manifests  # False: as a client run with --no-cache,
        # or one whose cache has never seen these tags
        self.notices = notices if notices is not None else Notices()
        self.delete_by_tag = delete_by_tag  # True: an OCI 1.1 registry, which removes one tag
        self.delete_enabled = delete_enabled  # False: distribution with delete disabled (405)
        self.refuse_mounts = refuse_mounts
        self.repositories: dict[str, Repository] = {}
        self.calls: list[tuple[str, str, str]] = []
        self._faults: list[Fault] = []

    @property
    def registry(self) -> str:
        return self.host

    def probably_cached(self, repository: str, tag: str) -> bool:
        return self.caches_manifests

    # -- test controls ------------------------------------------------------------------

    def fail(
        self,
        operation: str,
        ref: str | None = None,
        *,
        error: RegistryError | None = None,
        times: int | None = None,
    ) -> None:
        """Make ``operation`` (a method name) raise ``error``; by default a 500 naming the
        repository, as the real client reports one. ``times``: only the first so many calls."""
        if operation not in _METHODS:
            raise ValueError(f"no such operation: {operation}")
        self._faults.append(Fault(operation, ref, error, times))

    def writes(self) -> list[tuple[str, str, str]]:
        """The calls that change state, in order."""
        kinds = ("put_manifest", "delete_manifest", "mount_blob", "upload_blob")
        return [c for c in self.calls if c[0] in kinds]

    def repo(self, repository: str) -> Repository:
        return self.repositories.setdefault(repository, Repository())

    def tag_digest(self, repository: str, tag: str) -> str | None:
        found = self.repositories.get(repository)
        return found.tags.get(tag) if found else None

    # -- helpers ------------------------------------------------------------------------

    async def _enter(self, operation: str, repository: str, ref: str) -> None:
        """Record the call, yield to the loop once as a network call would, then maybe fail."""
        self.calls.append((operation, repository, ref))
        await asyncio.sleep(0)
        self.notices.count(_METHODS[operation])
        for fault in self._faults:
            if fault.operation == operation and fault.ref in (None, ref):
                if fault.times is not None:
                    if fault.times <= 0:
                        continue
                    fault.times -= 1
                raise fault.error or RegistryError(
                    self.host,
                    repository,
                    f"{operation} {ref} failed (injected)",
                    status=500,
                    errors=(ErrorDetail("UNKNOWN", "injected failure"),),
                )

    def _error(
        self, repository: str, what: str, status: int, code: str, cls: type[RegistryError]
    ) -> RegistryError:
        return cls(self.host, repository, what, status=status, errors=(ErrorDetail(code, what),))

    def _resolve(self, repository: str, ref: str) -> str | None:
        found = self.repositories.get(repository)
        if found is None:
            return None
        digest = ref if ref.startswith("sha256:") else found.tags.get(ref)
        return digest if digest in found.manifests else None

    # -- manifests ----------------------------------------------------------------------

    async def head_manifest(self, repository: str, ref: str) -> ManifestInfo | None:
        await self._enter("head_manifest", repository, ref)
        digest = self._resolve(repository, ref)
        if digest is None:
            return None
        data, media_type = self.repositories[repository].manifests[digest]
        return ManifestInfo(digest, media_type, len(data))

    async def get_manifest(self, repository: str, ref: str) -> FetchedManifest:
        await self._enter("get_manifest", repository, ref)
        digest = self._resolve(repository, ref)
        if digest is None:
            raise self._error(
                repository, f"manifest {ref} not readable", 404, "MANIFEST_UNKNOWN", NotFoundError
            )
        data, media_type = self.repositories[repository].manifests[digest]
        manifest = parse_manifest(data, media_type)
        return FetchedManifest(digest, manifest.media_type, data, manifest)

    async def put_manifest(self, repository: str, ref: str, data: bytes, media_type: str) -> str:
        await self._enter("put_manifest", repository, ref)
        refused = f"PUT manifest {ref} refused"
        digest = sha256_digest(data)
        if ref.startswith("sha256:") and ref != digest:
            raise self._error(repository, refused, 400, "DIGEST_INVALID", RegistryError)
        try:
            manifest = parse_manifest(data, media_type)
        except ManifestError:
            raise self._error(repository, refused, 400, "MANIFEST_INVALID", RegistryError) from None
        repo = self.repo(repository)
        if isinstance(manifest, Index):
            missing = [d for d in manifest.manifests if d.digest not in repo.manifests]
        else:
            missing = [b for b in manifest.blobs() if not b.urls and b.digest not in repo.blobs]
        if missing:
            raise self._error(repository, refused, 400, "MANIFEST_BLOB_UNKNOWN", RegistryError)
        repo.manifests[digest] = (data, media_type)
        if not ref.startswith("sha256:"):
            repo.tags[ref] = digest
        return digest

    async def delete_manifest(self, repository: str, ref: str) -> None:
        await self._enter("delete_manifest", repository, ref)
        refused = f"DELETE manifest {ref} refused"
        if not self.delete_enabled:
            raise self._error(repository, refused, 405, "UNSUPPORTED", RegistryError)
        by_digest = ref.startswith("sha256:")
        if not by_digest and not self.delete_by_tag:
            raise self._error(repository, refused, 400, "DIGEST_INVALID", RegistryError)
        digest = self._resolve(repository, ref)
        if digest is None:
            raise self._error(repository, refused, 404, "MANIFEST_UNKNOWN", NotFoundError)
        repo = self.repositories[repository]
        if not by_digest:
            del repo.tags[ref]
            return
        del repo.manifests[digest]
        for tag in [t for t, d in repo.tags.items() if d == digest]:
            del repo.tags[tag]

    async def list_tags(self, repository: str) -> list[str]:
        await self._enter("list_tags", repository, "")
        found = self.repositories.get(repository)
        return sorted(found.tags) if found else []

    async def tags_within(self, repository: str, max_pages: int) -> frozenset[str] | None:
        try:
            await self._enter("tags_within", repository, "")
        except RegistryError:
            return None  # as RegistryClient: a registry that will not list is asked tag by tag
        found = self.repositories.get(repository)
        tags = frozenset(found.tags) if found else frozenset()
        pages = max(1, -(-len(tags) // self.tags_page))
        return tags if pages <= max_pages else None

    # -- blobs --------------------------------------------------------------------------

    async def blob_size(self, repository: str, digest: str) -> int | None:
        await self._enter("blob_size", repository, digest)
        found = self.repositories.get(repository)
        data = found.blobs.get(digest) if found else None
        return None if data is None else len(data)

    def _blob(self, repository: str, digest: str) -> bytes:
        found = self.repositories.get(repository)
        data = found.blobs.get(digest) if found else None
        if data is None:
            what = f"blob {digest} not readable"
            raise self._error(repository, what, 404, "BLOB_UNKNOWN", NotFoundError)
        return data

    async def get_blob(self, repository: str, digest: str, max_bytes: int) -> bytes:
        await self._enter("get_blob", repository, digest)
        data = self._blob(repository, digest)
        if len(data) > max_bytes:
            raise ContentError(
                self.host, repository, f"blob {digest} is larger than {max_bytes} bytes"
            )
        return data

    async def stream_blob(
        self, repository: str, digest: str, *, max_bytes: int | None = None
    ) -> AsyncIterator[bytes]:
        await self._enter("stream_blob", repository, digest)
        data = self._blob(repository, digest)
        if max_bytes is not None and len(data) > max_bytes:
            raise ContentError(
                self.host, repository, f"blob {digest} is larger than {max_bytes} bytes"
            )
        for start in range(0, len(data), 1024):
            yield data[start : start + 1024]

    async def mount_blob(self, repository: str, digest: str, source_repository: str) -> bool:
        await self._enter("mount_blob", repository, digest)
        source = self.repositories.get(source_repository)
        if self.refuse_mounts or source is None or digest not in source.blobs:
            return False
        self.repo(repository).blobs[digest] = source.blobs[digest]
        return True

    async def upload_blob(
        self,
        repository: str,
        digest: str,
        size: int,
        chunks: Callable[[], AsyncIterable[bytes]],
    ) -> None:
        await self._enter("upload_blob", repository, digest)
        data = b"".join([c async for c in chunks()])
        what = f"upload of blob {digest} refused"
        if len(data) != size:
            raise self._error(repository, what, 400, "SIZE_INVALID", RegistryError)
        if sha256_digest(data) != digest:
            raise self._error(repository, what, 400, "DIGEST_INVALID", RegistryError)
        self.repo(repository).blobs[digest] = data


class MemoryRegistries:
    """Every registry of a test, created on first use, sharing one ``Notices`` as a pool does."""

    def __init__(self, **options: bool) -> None:
        self._notices = Notices()
        self._options = options
        self.registries: dict[str, MemoryRegistry] = {}

    @property
    def notices(self) -> Notices:
        return self._notices

    def client(self, registry: str) -> MemoryRegistry:
        found = self.registries.get(registry)
        if found is None:
            found = MemoryRegistry(registry, self._notices, **self._options)
            self.registries[registry] = found
        return found

    def writes(self) -> list[tuple[str, str, str, str]]:
        """State-changing calls on every registry: (registry, operation, repository, ref)."""
        return [(h, *c) for h, r in self.registries.items() for c in r.writes()]


if TYPE_CHECKING:  # mypy proves these implement the interface the engine is written against
    _registries: Registries = MemoryRegistries()
    _registry: Registry = MemoryRegistry("registry.test")


# -- seeding ----------------------------------------------------------------------------


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _put_blob(repo: Repository, data: bytes, media_type: str) -> Descriptor:
    digest = sha256_digest(data)
    repo.blobs[digest] = data
    return Descriptor(media_type, digest, len(data))


def push_image(
    registry: MemoryRegistry,
    repository: str,
    tag: str | None,
    platform: str = "linux/amd64",
    *,
    oci: bool = False,
    layers: int = 1,
    salt: str = "",
) -> Descriptor:
    """Store a config, ``layers`` layers and an image manifest (by tag, or digest only if None).

    Content depends only on the platform, ``layers`` and ``salt``, as tests/support/seed.py's
    does, so equal inputs in two repositories give equal digests. Returns the manifest's
    descriptor, with the platform, as an index would list it. Nothing is recorded in ``calls``.
    """
    parsed = Platform.parse(platform)
    repo = registry.repo(repository)
    config: dict[str, Any] = {"architecture": parsed.architecture, "os": parsed.os}
    if parsed.variant:
        config["variant"] = parsed.variant
    layer_type = OCI_LAYER if oci else DOCKER_LAYER
    blobs = [
        _put_blob(
            repo,
            gzip.compress(hashlib.sha256(f"{platform}|{salt}|{i}".encode()).digest(), mtime=0),
            layer_type,
        )
        for i in range(layers)
    ]
    config["rootfs"] = {"type": "layers", "diff_ids": [b.digest for b in blobs]}
    if salt:
        config["config"] = {"Labels": {"salt": salt}}
    config_type = mt.OCI_CONFIG if oci else mt.DOCKER_CONFIG
    cfg = _put_blob(repo, _canonical(config), config_type)
    media_type = mt.OCI_MANIFEST if oci else mt.DOCKER_MANIFEST
    body = _canonical(
        {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {"mediaType": cfg.media_type, "digest": cfg.digest, "size": cfg.size},
            "layers": [
                {"mediaType": b.media_type, "digest": b.digest, "size": b.size} for b in blobs
            ],
        }
    )
    return _store(repo, tag, body, media_type, parsed)


def push_index(
    registry: MemoryRegistry,
    repository: str,
    tag: str | None,
    platforms: tuple[str, ...] = ("linux/amd64", "linux/arm64"),
    *,
    oci: bool = True,
    salt: str = "",
    annotations: dict[str, str] | None = None,
) -> tuple[Descriptor, tuple[Descriptor, ...]]:
    """Store one image per platform (by digest) and an index over them on ``tag``.

    Returns the index's descriptor and its children's, in order.
    """
    children = tuple(
        push_image(registry, repository, None, p, oci=oci, salt=salt) for p in platforms
    )
    media_type = mt.OCI_INDEX if oci else mt.DOCKER_LIST
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [c.to_json(oci=oci) for c in children],
    }
    if annotations:
        doc["annotations"] = annotations
    body = _canonical(doc)
    return _store(registry.repo(repository), tag, body, media_type, None), children


def _store(
    repo: Repository, tag: str | None, body: bytes, media_type: str, platform: Platform | None
) -> Descriptor:
    parse_manifest(body, media_type)  # what is seeded must be what a registry would take
    digest = sha256_digest(body)
    repo.manifests[digest] = (body, media_type)
    if tag is not None:
        repo.tags[tag] = digest
    return Descriptor(media_type, digest, len(body), platform)
