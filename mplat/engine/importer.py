"""``mplat import``: the live lists of repositories as the ListSpecs that reproduce them.

The output must plan to "no changes", so a list is imported only when the config can say
everything that gives it its meaning: entries with annotations, ``artifactType`` or
``urls``, nested indexes, referrer indexes and entries without a platform cannot be
declared, and such lists are skipped with a reason rather than imported as something else.
A buildx-style list (platform entries, then their attestations) is the one exception the
config can state: one entry taking every entry and attestation from the list's own digest.

Platforms are always declared as the list spells them: a platform read from the image
config can differ from the list's (``os.version``, a variant), and the declared one is
written verbatim.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from mplat.config.model import EntrySpec, Format, ListSpec, Location
from mplat.engine.concurrency import run_bounded
from mplat.plan.model import MPLAT_ANNOTATIONS
from mplat.registry.api import ManifestInfo, Registries, Registry
from mplat.values import mediatypes as mt
from mplat.values.manifest import ATTESTATION_REFERENCE_DIGEST, Descriptor, Index, is_attestation
from mplat.values.reference import Reference, ReferenceError, validate_tag
from mplat.values.text import shown

# Tags other tools own (OCI referrers fallback, cosign); the planner skips them the same way.
_REFERRER_TAG = re.compile(r"^sha256-[0-9a-f]{64}(\.[a-z]+)?$")

LISTS_IN_FLIGHT = 64
"""Lists read at once; requests are bounded per registry anyway, this bounds memory."""

IMPORTED = Location("(imported)", 0, 0)
"""Where imported values "were written": nowhere yet; the writer gives them their lines."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The lists that reproduce the live ones, and one sentence per tag left out."""

    lists: tuple[ListSpec, ...]
    skipped: tuple[str, ...]


async def import_lists(targets: Sequence[Reference], registries: Registries) -> ImportResult:
    """Read the lists at ``targets`` (``repository:tag``, or a whole ``repository``).

    Every tag of each repository is read once (one listing, one HEAD per tag): sources are
    named by a tag of the same repository that points at the child when one exists.
    """
    wanted: dict[Reference, set[str] | None] = {}
    for ref in targets:
        repo = Reference(ref.registry, ref.repository)
        if ref.tag is None:
            wanted[repo] = None
        elif repo not in wanted or wanted[repo] is not None:
            tags = wanted.setdefault(repo, set())
            assert tags is not None
            tags.add(ref.tag)
    lists: list[ListSpec] = []
    skipped: list[str] = []
    for repo, tags in wanted.items():
        got, why = await _import_repository(repo, tags, registries.client(repo.registry))
        lists.extend(got)
        skipped.extend(why)
    return ImportResult(tuple(lists), tuple(skipped))


async def _import_repository(
    repo: Reference, only: set[str] | None, client: Registry
) -> tuple[list[ListSpec], list[str]]:
    listed = set(await client.list_tags(repo.repository)) | (only or set())
    skipped: list[str] = []
    all_tags = []
    for tag in sorted(listed):
        try:
            validate_tag(tag)
        except ReferenceError:
            skipped.append(f"{repo.name}: tag {shown(tag)} is not a valid tag")
            continue
        if not _REFERRER_TAG.match(tag):
            all_tags.append(tag)
    infos = await asyncio.gather(*(client.head_manifest(repo.repository, t) for t in all_tags))
    heads: dict[str, ManifestInfo] = {t: i for t, i in zip(all_tags, infos, strict=True) if i}
    by_digest: dict[str, list[str]] = {}
    child_tags: dict[str, str] = {}  # image digest -> first tag (sorted) naming it
    for tag in all_tags:
        info = heads.get(tag)
        if info is None:
            if only is not None and tag in only:
                skipped.append(f"{repo.name}:{tag}: not found")
            continue
        if info.media_type in mt.INDEX_TYPES:
            if only is None or tag in only:
                by_digest.setdefault(info.digest, []).append(tag)
            continue
        child_tags.setdefault(info.digest, tag)
        if only is not None and tag in only:
            skipped.append(f"{repo.name}:{tag}: a single image, not a list")
    for tag in sorted(only or ()):
        if _REFERRER_TAG.match(tag):
            skipped.append(f"{repo.name}:{tag}: a referrer or signature tag, not a list")
    jobs = [
        functools.partial(_import_list, client, repo, digest, tags, child_tags)
        for digest, tags in by_digest.items()
    ]
    lists: list[ListSpec] = []
    for spec, problem, tags in await run_bounded(jobs, LISTS_IN_FLIGHT):
        if spec is not None:
            lists.append(spec)
        else:
            skipped.extend(f"{repo.name}:{t}: {problem}" for t in tags)
    return lists, skipped


async def _import_list(
    client: Registry, repo: Reference, digest: str, tags: list[str], child_tags: dict[str, str]
) -> tuple[ListSpec | None, str, list[str]]:
    """The spec reproducing the list at ``digest``, or None and why it cannot be."""
    fetched = await client.get_manifest(repo.repository, digest)
    index = fetched.manifest
    assert isinstance(index, Index)
    attested = _with_attestations(index)
    problem = None if attested else _inexpressible(index)
    if any(not key for key in index.annotations):
        problem = "an index annotation has an empty name, which the config cannot declare"
    problem = problem or await _missing_child(client, repo, index)
    if problem is not None:
        return None, problem, tags
    entries: tuple[EntrySpec, ...]
    if attested:
        # Attestation entries can only be declared by taking them from an index: this one.
        entries = (EntrySpec(repo.with_digest(digest), IMPORTED, attestations=True),)
    else:
        entries = tuple(_entry(repo, d, child_tags) for d in index.manifests)
    return _spec(repo, tags, index, entries), "", tags


def _with_attestations(index: Index) -> bool:
    """Whether ``index`` is what an entry ``attestations: true`` on itself renders.

    That is: an OCI index whose platform entries (images, each platform once) come first
    and whose attestations follow, each attached to one of them, as buildx writes them.
    """
    if index.media_type != mt.OCI_INDEX or index.subject or index.artifact_type:
        return False
    platforms = [d for d in index.manifests if not is_attestation(d.annotations)]
    attestations = index.manifests[len(platforms) :]
    if not attestations or any(not is_attestation(d.annotations) for d in attestations):
        return False
    keys = set()
    for d in platforms:
        if d.media_type not in mt.IMAGE_TYPES or d.platform is None or d.platform.is_unknown():
            return False
        keys.add(d.platform.key())
    chosen = {d.digest for d in platforms}
    return len(keys) == len(platforms) and all(
        d.annotations.get(ATTESTATION_REFERENCE_DIGEST) in chosen for d in attestations
    )


def _inexpressible(index: Index) -> str | None:
    """Why the config cannot reproduce ``index``, or None when it can."""
    if index.subject is not None or index.artifact_type is not None:
        return "a referrer or artifact index (subject/artifactType), not a list of platforms"
    if not index.manifests:
        return "an empty list (a list needs at least one entry)"
    docker = index.media_type == mt.DOCKER_LIST
    seen: set[object] = set()
    for i, d in enumerate(index.manifests):
        where = f"entry {i} ({d.digest[:19]})"
        if d.media_type not in mt.IMAGE_TYPES:
            return f"{where} is {shown(d.media_type)}, not an image manifest"
        if docker and d.media_type != mt.DOCKER_MANIFEST:
            return f"{where} is an OCI image in a Docker list, which mplat does not write"
        if d.annotations:
            return f"{where} has annotations, which the config cannot declare per entry"
        if d.artifact_type is not None or d.urls:
            return f"{where} has artifactType or urls, which the config cannot declare"
        if d.platform is None or d.platform.is_unknown():
            return f"{where} has no platform"
        if d.platform.key() in seen:
            return f"{where} repeats the platform {d.platform}"
        seen.add(d.platform.key())
    if docker and index.annotations:
        return "a Docker list with annotations, which mplat does not write"
    return None


async def _missing_child(client: Registry, repo: Reference, index: Index) -> str | None:
    """A child the repository lacks cannot be a source; the plan would fail on it."""
    found = await asyncio.gather(
        *(client.head_manifest(repo.repository, d.digest) for d in index.manifests)
    )
    for i, (d, info) in enumerate(zip(index.manifests, found, strict=True)):
        if info is None:
            return f"entry {i} ({d.digest}) is missing from the repository"
        if (info.media_type, info.size) != (d.media_type, d.size):
            return f"entry {i} ({d.digest[:19]}) does not match the manifest it names"
    return None


def _spec(
    repo: Reference, tags: list[str], index: Index, entries: tuple[EntrySpec, ...]
) -> ListSpec:
    fmt: Format = "docker" if index.media_type == mt.DOCKER_LIST else "oci"
    return ListSpec(
        repository=repo,
        tags=tuple(tags),
        format=fmt,
        location=IMPORTED,
        manifests=entries,
        annotations={k: v for k, v in index.annotations.items() if k not in MPLAT_ANNOTATIONS},
    )


def _entry(repo: Reference, d: Descriptor, child_tags: dict[str, str]) -> EntrySpec:
    tag = child_tags.get(d.digest)
    if tag is not None:
        image = Reference(repo.registry, repo.repository, tag=tag)
    else:
        image = repo.with_digest(d.digest)
    return EntrySpec(image=image, location=IMPORTED, platform=d.platform)
