"""Resolving declared entries into the descriptors a list will hold.

A declared entry names an image by tag or digest, maybe an index, maybe with a platform.
Resolution reads the registry (HEAD, then verified GETs of content by digest, which the
cache makes free on later runs) and returns child descriptors whose digest, size and media
type come from the bytes actually fetched, with platforms either declared or read from the
image's config blob.

With a lock (``plan/lock.py``), a source tag resolves to the digest the lock pins, not to
what the tag holds now: the tag is still HEADed, and a tag that moved since locking is a
warning, never followed. A source the lock lacks is an error (``unlocked``), which an
optional entry turns into a skip; digest-pinned sources need no lock entry.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from mplat.config.model import EntrySpec, Location
from mplat.engine.concurrency import Once
from mplat.plan.lock import Lock, key
from mplat.registry.api import FetchedManifest, Registries
from mplat.registry.errors import NotFoundError, RegistryError
from mplat.values import mediatypes as mt
from mplat.values.errors import MplatError
from mplat.values.manifest import (
    ATTESTATION_REFERENCE_DIGEST,
    Descriptor,
    ImageManifest,
    Index,
    is_attestation,
)
from mplat.values.platform import Platform, PlatformError
from mplat.values.reference import Reference

MAX_CONFIG_BYTES = 4 * 1024 * 1024


class SourceError(MplatError):
    """A declared source that cannot be used; the message names the image and why.

    ``location`` points at the entry in the config file when the problem is one entry's;
    ``cause`` is the registry failure behind it, when there is one; ``missing``: the
    registry said the source does not exist (what ``optional: true`` forgives, and only that);
    ``unlocked``: a lock is in use and has no pin for the source (also forgiven by optional).
    """

    def __init__(
        self,
        message: str,
        location: Location | None = None,
        cause: str = "",
        *,
        missing: bool = False,
        unlocked: bool = False,
    ) -> None:
        super().__init__(message)
        self.location = location
        self.cause = cause
        """A registry failure behind this source's, shared by every list that met it."""
        self.missing = missing
        self.unlocked = unlocked


def is_missing(exc: RegistryError) -> bool:
    """The registry says the source does not exist (not: refused, failed, or unreachable)."""
    return isinstance(exc, NotFoundError) or exc.has_code("MANIFEST_UNKNOWN", "NAME_UNKNOWN")


@dataclass(frozen=True, slots=True)
class Child:
    """One resolved child: the descriptor for the list and where the manifest lives."""

    descriptor: Descriptor
    source: Reference  # registry/repository@digest
    seen_live: bool  # its existence in source.repository was confirmed by this run
    attestation: bool = False


@dataclass(frozen=True, slots=True)
class Found:
    """A source's manifest, whether a live request confirmed it, and what the user must hear."""

    fetched: FetchedManifest
    seen_live: bool
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResolvedEntry:
    children: tuple[Child, ...]
    warnings: tuple[str, ...] = ()
    resolved_digest: str = ""


class SourceResolver:
    """Resolves entries with memoised registry reads, so a source shared by many lists
    costs one request per run. With ``lock``, source tags resolve to their pins."""

    def __init__(self, registries: Registries, lock: Lock | None = None) -> None:
        self.registries = registries
        self.lock = lock
        self._manifests: Once[Reference, Found] = Once()
        self._configs: Once[tuple[str, str, str], bytes] = Once()

    async def manifest(self, image: Reference) -> Found:
        """The manifest an image reference points at (its pin, under a lock)."""
        return await self._manifests(image, functools.partial(self._fetch, image))

    async def _fetch(self, image: Reference) -> Found:
        if self.lock is not None and image.digest is None:
            return await self._fetch_locked(image, self.lock)
        client = self.registries.client(image.registry)
        seen_live = False
        digest = image.digest
        if digest is None and not client.probably_cached(image.repository, image.ref):
            # The cache probably lacks what the tag holds, so the body is read anyway: one GET
            # of the tag (verified against the digest the registry claims) instead of a HEAD
            # for the digest and then a GET of it, a round trip per source saved.
            try:
                fetched = await client.get_manifest(image.repository, image.ref)
            except NotFoundError:
                raise SourceError(f"source image {image} not found", missing=True) from None
            return Found(fetched, True)
        if digest is None:
            info = await client.head_manifest(image.repository, image.ref)
            if info is None:
                raise SourceError(f"source image {image} not found", missing=True)
            digest = info.digest
            seen_live = True
        try:
            fetched = await client.get_manifest(image.repository, digest)
        except NotFoundError:
            raise SourceError(f"source image {image} not found", missing=True) from None
        return Found(fetched, seen_live)

    async def _fetch_locked(self, image: Reference, lock: Lock) -> Found:
        """The pinned manifest; the tag is HEADed only to tell whether it moved since."""
        pin = lock.pins.get(key(image))
        if pin is None:
            raise SourceError(
                f"source {image} is not in {lock.name}; run `mplat lock` to pin it",
                unlocked=True,
            )
        client = self.registries.client(image.registry)
        info = await client.head_manifest(image.repository, image.ref)
        follow = "`mplat lock --update-lock` or `mplat plan --update-lock` follows the tag"
        warnings: tuple[str, ...] = ()
        if info is None:
            warnings = (
                f"source {image} no longer exists; using the digest {lock.name} pins, "
                f"{pin.digest} ({follow})",
            )
        elif info.digest != pin.digest:
            warnings = (
                f"source {image} moved since locking: locked {pin.digest}, now "
                f"{info.digest}; not followed until the lock is updated ({follow})",
            )
        try:
            fetched = await client.get_manifest(image.repository, pin.digest)
        except NotFoundError:
            raise SourceError(
                f"source {image}: {pin.digest}, the digest {lock.name} pins, is not in the "
                f"registry; {follow}",
                missing=True,
            ) from None
        if (fetched.media_type, fetched.size) != (pin.media_type, pin.size):
            raise SourceError(
                f"source {image}: {lock.name} says {pin.digest} is {pin.media_type} of "
                f"{pin.size} bytes, but the registry serves {fetched.media_type} of "
                f"{fetched.size} bytes; the lock was edited by hand: `mplat lock "
                "--update-lock` rewrites it"
            )
        return Found(fetched, info is not None and info.digest == pin.digest, warnings)

    async def platform_of(self, image: Reference, manifest: ImageManifest) -> Platform:
        client = self.registries.client(image.registry)
        data = await self._configs(
            (image.registry, image.repository, manifest.config.digest),
            functools.partial(
                client.get_blob, image.repository, manifest.config.digest, MAX_CONFIG_BYTES
            ),
        )
        try:
            config = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise SourceError(f"{image}: image config is not valid JSON") from None
        try:
            return Platform.from_json(config)
        except PlatformError as exc:
            raise SourceError(
                f"{image}: cannot read the platform from the image config ({exc}); "
                "declare `platform:` for this entry"
            ) from None

    async def resolve(self, entry: EntrySpec) -> ResolvedEntry:
        found = await self.manifest(entry.image)
        fetched, seen_live = found.fetched, found.seen_live
        pinned = entry.image.with_digest(fetched.digest)
        m = fetched.manifest
        if isinstance(m, ImageManifest):
            if entry.platforms is not None:
                raise SourceError(
                    f"{entry.image} is a single-platform image; `platforms:` selects entries "
                    "of an index — use `platform:` instead"
                )
            actual = await self.platform_of(entry.image, m)
            platform, declared = check_declared(entry.image, entry.platform, actual)
            child = Child(
                Descriptor(fetched.media_type, fetched.digest, fetched.size, platform),
                pinned,
                seen_live,
            )
            return ResolvedEntry((child,), found.warnings + declared, fetched.digest)
        assert isinstance(m, Index)
        if entry.platform is not None:
            raise SourceError(
                f"{entry.image} is an index; select its entries with `platforms:` "
                "rather than `platform:`"
            )
        children = select_from_index(entry, m)
        return ResolvedEntry(
            tuple(
                Child(d, pinned.with_digest(d.digest), False, is_attestation(d.annotations))
                for d in children
            ),
            found.warnings,
            fetched.digest,
        )


def check_declared(
    image: Reference, declared: Platform | None, actual: Platform
) -> tuple[Platform, tuple[str, ...]]:
    """Use the declared platform, unless it would send machines to the wrong binary.

    A wrong os or architecture gives users "exec format error", so it is refused; a
    differing variant or os.version is allowed (that is what annotating is for) but warned.
    """
    if declared is None:
        return actual, ()
    d, a = declared.normalized(), actual.normalized()
    if (d.os, d.architecture) != (a.os, a.architecture):
        raise SourceError(
            f"{image}: declared platform {declared} contradicts the image config, "
            f"which says {actual.os}/{actual.architecture}"
        )
    warnings = []
    if (d.variant or "") != (a.variant or ""):
        warnings.append(
            f"{image}: declared variant {declared.variant or '(none)'} differs from the "
            f"image config's {actual.variant or '(none)'}"
        )
    if declared.os_version and declared.os_version != actual.os_version:
        warnings.append(
            f"{image}: declared os.version {declared.os_version} differs from the image "
            f"config's {actual.os_version or '(none)'}"
        )
    return declared, tuple(warnings)


def select_from_index(entry: EntrySpec, index: Index) -> list[Descriptor]:
    """Pick entries of an index source: the requested platforms in order, or all of them.

    Attestation entries (``unknown/unknown``) are never platforms; they are kept only on
    request, after the platform entries, and only those attached to a selected entry.
    """
    platform_entries = [
        d
        for d in index.manifests
        if not is_attestation(d.annotations) and d.platform and not d.platform.is_unknown()
    ]
    for d in platform_entries:
        if d.media_type in mt.INDEX_TYPES:
            raise SourceError(f"{entry.image}: nested indexes are not supported as sources")
    if entry.platforms is None:
        picked = platform_entries
    else:
        picked = []
        for want in entry.platforms:
            match = next(
                (d for d in platform_entries if d.platform and want.matches(d.platform)), None
            )
            if match is None:
                have = ", ".join(str(d.platform) for d in platform_entries) or "no platforms"
                raise SourceError(f"{entry.image} has no {want} entry (it has: {have})")
            picked.append(match)
    if entry.attestations:
        chosen = {d.digest for d in picked}
        picked += [
            d
            for d in index.manifests
            if is_attestation(d.annotations)
            and d.annotations.get(ATTESTATION_REFERENCE_DIGEST) in chosen
        ]
    return picked
